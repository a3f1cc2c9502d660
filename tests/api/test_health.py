"""Readiness: 200 when the database answers, a documented 503 problem+json when not."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

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
