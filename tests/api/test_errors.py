"""Every error is RFC 9457 problem+json, without stack traces or submitted values."""

import re
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from app.core.settings import get_settings
from app.main import create_app
from app.models.organisation import OrgKind, Role
from tests.fixtures import World

ORGS = "/api/v1/admin/organisations"
SENTINEL = "SYNTHETIC-SENSITIVE-VALUE-4711"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    return body


def _admin(world: World) -> dict[str, str]:
    return world.headers(world.org("Coordination", OrgKind.care_coordination), Role.system_admin)


def test_validation_error_lists_errors_without_echoing_the_value(
    client: TestClient, world: World
) -> None:
    response = client.post(
        ORGS, json={"name": "", "kind": SENTINEL, "note": SENTINEL}, headers=_admin(world)
    )
    body = _problem(response, 422)
    assert body["instance"] == ORGS
    locations = {tuple(e["loc"]) for e in body["errors"]}
    assert {("body", "name"), ("body", "kind"), ("body", "note")} <= locations
    assert all(set(e) == {"loc", "msg", "type"} for e in body["errors"])
    assert SENTINEL not in response.text


def test_validation_error_in_form_does_not_echo_the_password(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/token",
        data={"grant_type": SENTINEL, "username": "someone", "password": SENTINEL},
    )
    _problem(response, 422)
    assert SENTINEL not in response.text


def test_malformed_json_is_400(client: TestClient, world: World) -> None:
    response = client.post(
        ORGS,
        content=b'{"name": "Unfinished',
        headers={**_admin(world), "Content-Type": "application/json"},
    )
    body = _problem(response, 400)
    assert body["title"] == "Malformed JSON"
    assert "Unfinished" not in response.text


def test_unknown_route_is_404(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")
    body = _problem(response, 404)
    assert body["instance"] == "/api/v1/no-such-thing"


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.delete("/api/v1/me")
    _problem(response, 405)
    assert response.headers["allow"] == "GET"


def test_body_over_the_limit_with_content_length_is_413(client: TestClient) -> None:
    limit = get_settings().max_body_bytes
    response = client.post(
        "/api/v1/auth/token",
        content=b"grant_type=password&username=" + b"a" * limit,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    body = _problem(response, 413)
    assert str(limit) in body["detail"]
    assert response.headers.get("x-request-id")


def test_chunked_body_over_the_limit_is_413(client: TestClient, world: World) -> None:
    limit = get_settings().max_body_bytes
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(limit // 65536 + 2):
            sent.append(65536)
            yield b"a" * 65536
        yield b'", "kind": "housing"}'

    response = client.post(
        ORGS, content=chunks(), headers={**_admin(world), "Content-Type": "application/json"}
    )
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert sum(sent) > limit
    _problem(response, 413)


def test_body_under_the_limit_is_accepted(client: TestClient, world: World) -> None:
    response = client.post(
        ORGS, json={"name": "Small Org " + "x" * 100, "kind": "housing"}, headers=_admin(world)
    )
    assert response.status_code == 201, response.text


def test_unexpected_exception_is_500_without_internals() -> None:
    app = create_app()

    @app.get("/api/v1/explode")
    def explode() -> None:
        raise RuntimeError(f"database password is {SENTINEL} at /srv/app/secret.py")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/api/v1/explode", headers={"X-Request-ID": "req-00000500"})
    body = _problem(response, 500)
    assert set(body) <= {"type", "title", "status", "detail", "instance"}
    for leak in (SENTINEL, "Traceback", "RuntimeError", "secret.py", 'File "'):
        assert leak not in response.text
    assert response.headers["x-request-id"] == "req-00000500"


def test_request_id_is_echoed_when_supplied(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "partner-req-0001"})
    assert response.headers["x-request-id"] == "partner-req-0001"
    problem = client.get("/api/v1/me", headers={"X-Request-ID": "partner-req-0002"})
    assert problem.status_code == 401
    assert problem.headers["x-request-id"] == "partner-req-0002"


def test_request_id_is_generated_when_missing_or_unsafe(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\r\nX-Injected: 1"})
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])
    assert "x-injected" not in unsafe.headers


def _serve_in_thread(app: Any) -> tuple[Any, int]:
    """A real uvicorn server (the reset is uvicorn's doing, TestClient cannot show it)."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    return server, port


def test_keep_alive_connection_survives_a_500() -> None:
    """After a 500, the next request on the same connection was reset (no answer at all)."""
    import http.client

    app = create_app()

    @app.get("/api/v1/explode")
    def explode() -> None:
        raise RuntimeError("synthetic failure")

    server, port = _serve_in_thread(app)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        answers = []
        for path in ("/api/v1/explode", "/healthz", "/api/v1/explode", "/healthz"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            answers.append(response.status)
        conn.close()
    finally:
        server.should_exit = True
    assert answers == [500, 200, 500, 200]


def test_database_locked_is_503_with_retry_after_not_500() -> None:
    """SQLite 'database is locked' (two workers contending) was answered with a 500."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    app = create_app()

    @app.get("/api/v1/locked")
    def locked() -> None:
        raise OperationalError(
            "BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked")
        )

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/api/v1/locked")
    body = _problem(response, 503)
    assert body["database"] == "locked"
    assert int(response.headers["retry-after"]) >= 1
    assert "BEGIN" not in response.text


def _write_through_session_app(engine: Any, monkeypatch: Any) -> Any:
    """An app with one route writing through the request session, on `engine`."""
    from sqlalchemy import text

    from app.core import db
    from app.core.db import DbSession

    monkeypatch.setattr(db, "get_engine", lambda: engine)
    app = create_app()

    @app.post("/api/v1/write", status_code=201)
    def write(session: DbSession) -> dict[str, int]:
        session.execute(text("CREATE TABLE IF NOT EXISTS filler (blob TEXT)"))
        for _ in range(50):
            session.execute(text("INSERT INTO filler VALUES (:b)"), {"b": "x" * 4000})
        return {"written": 50}

    return app


def _sqlite_copy(tmp_path: Any) -> Any:
    import sqlite3

    from app.core.db import get_engine
    from tests.conftest import BACKEND

    if BACKEND != "sqlite":
        import pytest

        pytest.skip("SQLite file states; PostgreSQL failures are in tests/durability")
    source = sqlite3.connect(str(get_engine().url.database))
    target = sqlite3.connect(tmp_path / "copy.db")
    source.backup(target)
    source.close()
    target.close()
    return tmp_path / "copy.db"


def test_write_to_a_full_database_is_503(tmp_path: Any, monkeypatch: Any) -> None:
    """SQLITE_FULL ('database or disk is full') on a write was a 500."""
    import sqlite3

    from sqlalchemy import create_engine, event

    path = _sqlite_copy(tmp_path)
    engine = create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(path, check_same_thread=False)
    )

    @event.listens_for(engine, "connect")
    def _no_room(dbapi_connection: Any, _record: Any) -> None:
        # The database may not grow by a page: what a full disk looks like to SQLite.
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    app = _write_through_session_app(engine, monkeypatch)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.post("/api/v1/write")
        after = test_client.get("/healthz")
    body = _problem(response, 503)
    assert body["database"] == "full"
    assert response.headers["retry-after"]
    assert after.status_code == 200


def test_write_to_a_read_only_database_is_503(tmp_path: Any, monkeypatch: Any) -> None:
    """'attempt to write a readonly database' was a 500."""
    import sqlite3

    from sqlalchemy import create_engine

    path = _sqlite_copy(tmp_path)
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False),
    )
    app = _write_through_session_app(engine, monkeypatch)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.post("/api/v1/write")
    body = _problem(response, 503)
    assert body["database"] == "read_only"


def test_write_while_another_process_holds_the_lock_is_503(tmp_path: Any, monkeypatch: Any) -> None:
    """A writer (another worker) holding SQLite's lock past busy_timeout gave a 500."""
    import sqlite3

    from app.core.db import make_engine

    path = _sqlite_copy(tmp_path)
    monkeypatch.setattr(get_settings(), "sqlite_busy_timeout_ms", 200)
    engine = make_engine(f"sqlite:///{path}", service=True)
    app = _write_through_session_app(engine, monkeypatch)
    other_worker = sqlite3.connect(path, isolation_level=None)
    other_worker.execute("BEGIN IMMEDIATE")
    try:
        with TestClient(app, raise_server_exceptions=False) as test_client:
            response = test_client.post("/api/v1/write")
    finally:
        other_worker.rollback()
        other_worker.close()
        engine.dispose()
    body = _problem(response, 503)
    assert body["database"] == "locked"
    assert response.headers["retry-after"]


def test_sqlite_connections_take_the_configured_pool_and_page_cache(
    tmp_path: Any, monkeypatch: Any
) -> None:
    """Each SQLite connection's page cache and the pool's size come from the settings."""
    from sqlalchemy import text

    from app.core.db import make_engine

    monkeypatch.setattr(get_settings(), "sqlite_cache_kib", 300)
    monkeypatch.setattr(get_settings(), "sqlite_pool_size", 3)
    engine = make_engine(f"sqlite:///{tmp_path}/pragmas.db")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA cache_size")).scalar() == -300
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        engine.dispose()
