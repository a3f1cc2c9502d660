# syntax=docker/dockerfile:1
# Throughcare API image: `docker build -t throughcare .`
# Configure with THROUGHCARE_* environment variables (see app/core/settings.py), e.g.
#   docker run -p 8000:8000 \
#     -e THROUGHCARE_DATABASE_URL=postgresql+psycopg://user:pass@db:5432/throughcare \
#     -e THROUGHCARE_ISSUER=https://throughcare.example.org \
#     -v throughcare-data:/data throughcare
# Several instances must share one signing key (THROUGHCARE_SIGNING_KEY_PATH on a shared
# volume or secret) so that each verifies the others' tokens.
# Every path the service writes is under /data (the source tree belongs to root and is
# read-only to the service's user); in production mount the keys as secrets and put the
# audit checkpoints on storage the database's operators cannot write (docs/decisions/0005).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /srv/throughcare
# Dependencies first, so source edits do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py \
    && pip install . && pip uninstall -y throughcare && rm -rf app build ./*.egg-info
COPY alembic.ini ./
COPY migrations ./migrations
COPY app ./app
# Installed in place: `throughcare migrate` finds alembic.ini and migrations/ next to the
# package, so the source tree stays at the same path in the final image.
RUN pip install --no-deps -e . && python -m compileall -q app migrations

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    THROUGHCARE_DATABASE_URL=sqlite:////data/throughcare.db \
    THROUGHCARE_SIGNING_KEY_PATH=/data/signing-key.pem \
    THROUGHCARE_WEBHOOK_SECRET_KEY_PATH=/data/webhook-secret-key \
    THROUGHCARE_AUDIT_CHECKPOINT_DIR=/data/audit-checkpoints \
    THROUGHCARE_AUDIT_CHECKPOINT_KEY_PATH=/data/audit-checkpoint-key.pem \
    THROUGHCARE_METRICS_MULTIPROC_DIR=/tmp/throughcare-metrics \
    THROUGHCARE_PORT=8000
RUN groupadd --system --gid 10001 throughcare \
    && useradd --system --uid 10001 --gid throughcare --home-dir /srv/throughcare \
       --shell /usr/sbin/nologin throughcare \
    && mkdir /data && chown throughcare:throughcare /data
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /srv/throughcare /srv/throughcare
WORKDIR /srv/throughcare
USER throughcare:throughcare
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('THROUGHCARE_PORT', '8000')}/healthz\", timeout=4)"]
# Migrate, then replace the shell with the server so it receives signals directly.
# Extra arguments are passed to `serve`, e.g. `docker run throughcare --workers 4`.
ENTRYPOINT ["/bin/sh", "-c", "throughcare migrate && exec throughcare serve --host 0.0.0.0 --port \"$THROUGHCARE_PORT\" \"$@\"", "throughcare"]
CMD []
