"""Database engine, naming convention and the request session dependency."""

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine

from app.core.settings import Settings, get_settings

log = logging.getLogger("throughcare.db")
# Execution option for connections that only read (no BEGIN IMMEDIATE on SQLite).
READ_ONLY = "throughcare_read_only"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def _sqlite_pragmas(busy_timeout_ms: int, cache_kib: int) -> Any:
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: KiB
        cursor.close()

    return _pragmas


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN: every request may write an audit row, and a
    # deferred transaction that upgrades to a writer later can fail with SQLITE_BUSY.
    # Issued on the driver connection (a fixed statement: `exec_driver_sql` costs several
    # times the BEGIN itself); a driver error is wrapped as SQLAlchemy would wrap it.
    dialect = conn.dialect
    # A read-only check (readiness) must not queue behind writers for the write lock.
    statement = "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
    try:
        conn.connection.driver_connection.execute(statement)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, (), exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc


def make_engine(url: str, *, service: bool = False) -> Engine:
    """An engine for `url`: SQLite pragmas and transaction handling, PostgreSQL timeouts.

    `service=True` is the served application's engine: it never creates a database (a
    missing SQLite file is an error, not a new empty schema-less file; only `migrate`
    creates one) and bounds every PostgreSQL statement and lock wait, so a stalled
    database is answered with a 503 instead of holding the request.
    """
    settings = get_settings()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings, create=not service)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = settings.db_connect_timeout_seconds
    if service and "options" not in parsed.query:
        connect_args["options"] = (
            f"-c statement_timeout={settings.db_statement_timeout_ms}"
            f" -c lock_timeout={settings.db_lock_timeout_ms}"
        )
    return create_engine(
        url,
        hide_parameters=True,  # SQL errors never log or echo bound values (personal data)
        connect_args=connect_args,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


def _sqlite_engine(url: str, settings: Settings, *, create: bool) -> Engine:
    path = sqlite_path(url)
    busy_ms = settings.sqlite_busy_timeout_ms
    pool = {
        "pool_timeout": settings.db_pool_timeout_seconds,
        "pool_size": settings.sqlite_pool_size,
        "max_overflow": 0,
    }
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": busy_ms / 1000},
        **pool,
    }
    if path is not None and create:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif path is not None:
        # mode=rw: open an existing file only. Plain sqlite3.connect would create an empty
        # database, which then "works" without a schema (and readiness would not notice).
        uri = f"file:{quote(str(path.resolve()))}?mode=rw"

        def _open_existing() -> Any:
            return sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=busy_ms / 1000)

        kwargs = {"creator": _open_existing, **pool}
    engine = create_engine(url, hide_parameters=True, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas(busy_ms, settings.sqlite_cache_kib))

    @event.listens_for(engine, "connect")
    def _no_pysqlite_txn(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    event.listen(engine, "begin", _sqlite_begin)
    return engine


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().database_url, service=True)


@contextmanager
def committing(session: Session) -> Iterator[Session]:
    """Commit on success, roll back on any error (the request's transaction)."""
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


def get_session() -> Iterator[Session]:
    """One session per request: commit on success, roll back on any error.

    Scoped to the endpoint function, so the commit happens before the response is
    sent: a failed commit (an audit row that cannot be written) fails the request.
    The audit events are the gate's (app/sharing/gate.py `auditing`), appended before
    this commit. A sync generator: FastAPI runs its setup and teardown (the commit) in
    the thread pool, off the event loop (docs/decisions/0001).
    """
    with Session(get_engine(), expire_on_commit=False) as session, committing(session):
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
