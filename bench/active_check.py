"""Per-request cost of the active-account check (app/auth/active.py), in process.

    python -m bench.active_check                       # temporary SQLite file
    BENCH_DATABASE_URL=postgresql+psycopg://... python -m bench.active_check

Prints microseconds per call for: a cache hit; a cache miss (the one indexed join, run in
an open request session, as get_caller does) next to an ORM `SELECT 1` for scale; and
GET /api/v1/me through the whole ASGI stack with the default cache time and with caching
off (0). The check runs its statement prepared once (app/sharing/fastsql.py), so it costs
less than an ORM `SELECT 1`. /me touches no table itself, so with caching off it also
pays for opening and committing a transaction, which every route that reads the database
pays anyway.
"""

import asyncio
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="throughcare-active-"))
URL = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{_TMP}/bench.db")
os.environ.update(
    THROUGHCARE_DATABASE_URL=URL,
    THROUGHCARE_SIGNING_KEY_PATH=str(_TMP / "key.pem"),
    THROUGHCARE_LOG_LEVEL="WARNING",
)

from sqlalchemy import literal  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from app.auth.active import Subject, active_cache, subject_is_active  # noqa: E402
from app.auth.issue import token_for_user  # noqa: E402
from app.cli import run_migrations  # noqa: E402
from app.core.db import get_engine  # noqa: E402
from app.core.settings import get_settings  # noqa: E402
from app.main import app  # noqa: E402
from app.models.organisation import Organisation, OrgKind, Role, User  # noqa: E402


def _per_call(fn: Callable[[], object], n: int, rounds: int = 5) -> float:
    """Median over `rounds` of the mean wall time of one call, in microseconds."""
    for _ in range(min(n, 200)):
        fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


async def _me(token: str) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/v1/me",
        "raw_path": b"/api/v1/me",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    out: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, object]) -> None:
        out.append(message)

    await app(scope, receive, send)
    status = out[0]["status"]
    assert status == 200, status
    return int(str(status))


def main() -> None:
    run_migrations(URL)
    with Session(get_engine(), expire_on_commit=False) as session:
        org = Organisation(name=f"Bench {uuid.uuid4().hex[:6]}", kind=OrgKind.probation)
        session.add(org)
        session.flush()
        user = User(
            username=f"bench{uuid.uuid4().hex[:8]}",
            role=Role.practitioner,
            organisation_id=org.id,
            password_hash="x",
        )
        session.add(user)
        session.commit()
    subject = Subject(token_type="user", org_id=org.id, role=user.role, user_id=user.id)
    settings = get_settings()
    default_ttl = settings.active_check_cache_seconds
    token = token_for_user(user, org).access_token
    loop = asyncio.new_event_loop()
    with Session(get_engine()) as session:
        session.connection()  # the request's transaction is already open, as in get_caller
        settings.active_check_cache_seconds = 0
        assert subject_is_active(session, subject)
        assert not subject_is_active(session, replace(subject, role=Role.org_admin))
        settings.active_check_cache_seconds = default_ttl
        hit = _per_call(lambda: subject_is_active(session, subject), 20_000)
        settings.active_check_cache_seconds = 0
        miss = _per_call(lambda: subject_is_active(session, subject), 2_000)
        select_one = _per_call(lambda: session.exec(select(literal(1))).one(), 2_000)
    settings.active_check_cache_seconds = default_ttl
    active_cache.forget_all()
    me_cached = _per_call(lambda: loop.run_until_complete(_me(token)), 500)
    settings.active_check_cache_seconds = 0
    me_uncached = _per_call(lambda: loop.run_until_complete(_me(token)), 500)
    backend = get_engine().dialect.name
    print(f"active check, {backend}, median of 5 rounds, wall time per call:")
    print(f"  cache hit (ttl {default_ttl:g} s):        {hit:8.1f} us")
    print(f"  cache miss (one indexed join):   {miss:8.1f} us")
    print(f"  for scale, SELECT 1 via the ORM session: {select_one:8.1f} us")
    print(f"  GET /api/v1/me, ttl {default_ttl:g} s:        {me_cached:8.1f} us")
    print(f"  GET /api/v1/me, ttl 0 (no cache): {me_uncached:8.1f} us")


if __name__ == "__main__":
    main()
