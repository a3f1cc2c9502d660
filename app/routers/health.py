"""Liveness, readiness and metrics."""

import os
import shutil
from functools import lru_cache
from pathlib import Path

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from app.core.db import READ_ONLY, get_engine, sqlite_path
from app.core.errors import database_unavailable, problem_response
from app.core.metrics import metrics
from app.core.settings import get_settings

router = APIRouter(tags=["operations"])
MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"
# One readiness check at a time: while the database is stuck, the one abandoned check
# holds this and later probes answer 503 at their deadline instead of piling up threads.
_checking = anyio.CapacityLimiter(1)
_DETAIL = {
    "unreachable": "The database is not reachable.",
    "stalled": "The database did not answer within the readiness deadline.",
    "not_migrated": "The database is not at the schema this release needs (run migrate).",
    "read_only": "The database cannot be written to.",
    "full": "The database's disk is full or nearly so.",
}


@router.get("/healthz", summary="Liveness")
async def healthz() -> dict[str, str]:
    """The process is up (never touches the database, so it answers while that is stuck)."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", responses={503: {"description": "Database down"}})
async def readyz(request: Request) -> JSONResponse:
    """The database is reachable, migrated to head and writable (503 problem+json if not)."""
    engine = get_engine()
    try:
        with anyio.fail_after(get_settings().readiness_timeout_seconds):
            problem = await anyio.to_thread.run_sync(
                database_problem, engine, limiter=_checking, abandon_on_cancel=True
            )
    except TimeoutError:
        problem = "stalled"
    if problem is None:
        return JSONResponse({"status": "ok", "database": "ok"})
    return problem_response(
        503,
        "Service unavailable",
        "unavailable",
        request,
        _DETAIL.get(problem, "The database cannot serve requests."),
        headers={"Retry-After": str(get_settings().db_retry_after_seconds)},
        extensions={"database": problem},
    )


@lru_cache
def schema_heads() -> frozenset[str]:
    """The migration heads this release's code expects."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory(str(MIGRATIONS)).get_heads())


def database_problem(engine: Engine) -> str | None:
    """Why the database cannot serve requests (None when it can); runs in a thread."""
    path = sqlite_path(str(engine.url))
    if path is not None:
        if not path.exists():
            return "unreachable"
        if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
            return "read_only"
        if shutil.disk_usage(path.parent).free < get_settings().readiness_min_free_bytes:
            return "full"
    try:
        with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            found = {
                row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))
            }
            if found != schema_heads():
                return "not_migrated"
            if engine.dialect.name == "sqlite":
                return _sqlite_write_problem(conn)
            return _postgres_write_problem(conn)
    except SQLAlchemyError as exc:
        return database_unavailable(exc) or "unreachable"


def _sqlite_write_problem(conn: Connection) -> str | None:
    # A statement that writes nothing still needs the write lock, which a database opened
    # read-only refuses. Without waiting: a writer holding the lock proves it writable.
    raw = conn.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA busy_timeout=0")
    try:
        raw.execute("DELETE FROM alembic_version WHERE 0")
    except Exception as exc:
        message = str(exc).lower()
        if "readonly" in message or "read-only" in message:
            return "read_only"
        if "full" in message:
            return "full"
        if "locked" not in message and "busy" not in message:
            raise
    finally:
        raw.execute(f"PRAGMA busy_timeout={get_settings().sqlite_busy_timeout_ms}")
    return None


def _postgres_write_problem(conn: Connection) -> str | None:
    row = conn.execute(
        text("SELECT pg_is_in_recovery(), current_setting('transaction_read_only')")
    ).one()
    return "read_only" if row[0] or row[1] == "on" else None


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def read_metrics() -> str:
    """Request counts by route and status, in Prometheus text format."""
    return metrics.render()
