"""Test setup: one fresh database per run (SQLite file, or a new PostgreSQL database),
migrated with Alembic; every test runs inside a transaction that is rolled back."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator

import pytest

BACKEND = os.environ.get("THROUGHCARE_TEST_BACKEND", "sqlite")
_TMP = tempfile.mkdtemp(prefix="throughcare-test-")
_PG_ADMIN_URL: str | None = None
_PG_DB: str | None = None

if BACKEND == "postgres":
    _PG_ADMIN_URL = os.environ.get("THROUGHCARE_TEST_POSTGRES_URL") or (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    _PG_DB = f"tc_test_{uuid.uuid4().hex[:12]}"
    DATABASE_URL = _PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + _PG_DB
else:
    DATABASE_URL = f"sqlite:///{_TMP}/test.db"

os.environ.update(
    {
        "THROUGHCARE_DATABASE_URL": DATABASE_URL,
        "THROUGHCARE_SIGNING_KEY_PATH": f"{_TMP}/signing-key.pem",
        "THROUGHCARE_ISSUER": "https://throughcare.test",
        "THROUGHCARE_AUDIENCE": "throughcare-api",
        "THROUGHCARE_LOG_LEVEL": "WARNING",
        # Audit checkpoints of the test run stay in its temporary directory.
        "THROUGHCARE_AUDIT_CHECKPOINT_DIR": f"{_TMP}/audit-checkpoints",
        "THROUGHCARE_AUDIT_CHECKPOINT_KEY_PATH": f"{_TMP}/audit-checkpoint-key.pem",
        "THROUGHCARE_WEBHOOK_SECRET_KEY_PATH": f"{_TMP}/webhook-secret-key",
    }
)


def _pg_admin(sql: str) -> None:
    import psycopg

    assert _PG_ADMIN_URL is not None
    dsn = _PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def pytest_configure(config: pytest.Config) -> None:
    if BACKEND == "postgres":
        try:
            _pg_admin(f'CREATE DATABASE "{_PG_DB}"')
        except Exception as exc:  # surfaced as a failed run, never a skip
            raise pytest.UsageError(
                f"PostgreSQL tests were asked for but the server is unreachable: {exc}"
            ) from exc
    from app.cli import run_migrations

    run_migrations(DATABASE_URL)


def pytest_unconfigure(config: pytest.Config) -> None:
    from app.core.db import get_engine

    get_engine().dispose()
    if BACKEND == "postgres" and _PG_DB:
        _pg_admin(f'DROP DATABASE IF EXISTS "{_PG_DB}" WITH (FORCE)')
    shutil.rmtree(_TMP, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    return f"throughcare database backend: {BACKEND}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if BACKEND == "postgres":
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: runs in the PostgreSQL pass of `make test` "
        "(set THROUGHCARE_TEST_POSTGRES_URL, or CI=true)"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _reset_process_state() -> Iterator[None]:
    from app.auth.throttle import throttle

    throttle.reset()
    yield
    throttle.reset()


pytest_plugins = ["tests.fixtures"]
