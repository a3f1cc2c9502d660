"""Readiness: 200 when the database is reachable, migrated and writable; 503 problem+json
with Retry-After, within its deadline, when not."""

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from app.core.settings import get_settings
from app.main import app
from app.routers import health


def test_readyz_ok() -> None:
    with TestClient(app) as client:
        response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_readyz_database_down_is_problem_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It answered 503 as application/json while the document promised problem+json."""
    unreachable = create_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    monkeypatch.setattr(health, "get_engine", lambda: unreachable)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 503
    assert body["database"] == "unreachable"
    documented = app.openapi()["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert "application/problem+json" in documented


def test_readyz_does_not_queue_behind_a_writer() -> None:
    """Readiness only reads: a long write transaction must not make it report 'down'."""
    import time

    from sqlalchemy import text

    from app.core.db import get_engine

    with get_engine().connect() as writer, TestClient(app) as client:
        writer.execute(text("SELECT 1"))  # on SQLite, BEGIN IMMEDIATE: holds the write lock
        started = time.perf_counter()
        response = client.get("/readyz")
        elapsed = time.perf_counter() - started
        writer.rollback()
    assert response.status_code == 200 and response.json()["database"] == "ok"
    assert elapsed < 2.0


def _sqlite_only() -> None:
    from tests.conftest import BACKEND

    if BACKEND != "sqlite":
        pytest.skip("SQLite file states (the PostgreSQL states are in tests/durability)")


def _migrated_copy(tmp_path: Path) -> Path:
    """A migrated SQLite file of our own, copied with the online backup API."""
    import sqlite3

    from app.core.db import get_engine

    source = sqlite3.connect(str(get_engine().url.database))
    target_path = tmp_path / "copy.db"
    target = sqlite3.connect(target_path)
    source.backup(target)
    source.close()
    target.close()
    return target_path


@contextmanager
def _service_engine(monkeypatch: pytest.MonkeyPatch, url: str) -> Iterator[Any]:
    """The service's own engine (`get_engine`) for `url`, for the duration."""
    from app.core import db

    with monkeypatch.context() as patch:
        patch.setattr(get_settings(), "database_url", url)
        db.get_engine.cache_clear()
        try:
            yield db.get_engine()
        finally:
            db.get_engine().dispose()
            db.get_engine.cache_clear()


def _readyz_with(monkeypatch: pytest.MonkeyPatch, engine: Any) -> Any:
    monkeypatch.setattr(health, "get_engine", lambda: engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        return client.get("/readyz")


def _unready(response: Any, reason: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["database"] == reason
    assert int(response.headers["retry-after"]) >= 1


def test_readyz_read_only_database_is_503(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A database SQLite can only open read-only was reported ready (200)."""
    _sqlite_only()
    path = _migrated_copy(tmp_path)
    # How SQLite opens a file the process may not write (tests run as root, so the file
    # mode alone would not stop them).
    read_only = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    )
    _unready(_readyz_with(monkeypatch, read_only), "read_only")


def test_readyz_database_replaced_by_empty_file_is_503(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An empty file in place of the database (no schema) was reported ready."""
    _sqlite_only()
    (tmp_path / "empty.db").write_bytes(b"")
    with _service_engine(monkeypatch, f"sqlite:///{tmp_path}/empty.db") as empty:
        _unready(_readyz_with(monkeypatch, empty), "not_migrated")


def test_readyz_full_disk_is_503(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A database whose disk has (almost) no space left was reported ready."""
    _sqlite_only()
    free = shutil.disk_usage(tmp_path).free
    monkeypatch.setattr(get_settings(), "readiness_min_free_bytes", free * 2)
    with _service_engine(monkeypatch, f"sqlite:///{_migrated_copy(tmp_path)}") as engine:
        _unready(_readyz_with(monkeypatch, engine), "full")


def test_service_never_creates_a_missing_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The service's engine created an empty, schema-less SQLite file on first use."""
    _sqlite_only()
    missing = tmp_path / "var" / "throughcare.db"
    with _service_engine(monkeypatch, f"sqlite:///{missing}") as engine:
        _unready(_readyz_with(monkeypatch, engine), "unreachable")
        with pytest.raises(OperationalError):
            engine.connect()
    assert not missing.exists() and not missing.parent.exists()


def test_readyz_answers_within_its_deadline_while_the_database_is_stuck(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stuck database call froze the event loop: /readyz and /healthz did not answer."""
    stuck = threading.Event()

    def stuck_connect() -> Any:
        stuck.wait(6)  # a database that accepted the connection and then stopped
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(get_settings(), "readiness_timeout_seconds", 0.5)
    try:
        frozen = create_engine("sqlite://", creator=stuck_connect)
        monkeypatch.setattr(health, "get_engine", lambda: frozen)
        with TestClient(app, raise_server_exceptions=False) as client:
            started = time.perf_counter()
            first = client.get("/readyz")
            second = client.get("/readyz")  # the first check is still stuck
            live = client.get("/healthz")
            elapsed = time.perf_counter() - started
    finally:
        stuck.set()
    _unready(first, "stalled")
    _unready(second, "stalled")
    assert live.status_code == 200
    assert elapsed < 3.0
