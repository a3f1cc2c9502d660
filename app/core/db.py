"""Database engine, naming convention and the request session dependency."""

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import Engine, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine

from app.core.settings import get_settings

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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


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


def make_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite pragmas and transaction handling when it is SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_txn(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    return make_engine(get_settings().database_url)


@contextmanager
def committing(session: Session) -> Iterator[Session]:
    """Commit on success, roll back on any error (the request's transaction)."""
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


async def get_session() -> AsyncIterator[Session]:
    """One session per request: commit on success, roll back on any error.

    Scoped to the endpoint function, so the commit happens before the response is
    sent: a failed commit (an audit row that cannot be written) fails the request. The
    audit events themselves are the gate's (app/sharing/gate.py `auditing`), appended
    before this commit. The session is synchronous and used inline (docs/decisions/0001).
    """
    with Session(get_engine(), expire_on_commit=False) as session, committing(session):
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
