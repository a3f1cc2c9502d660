"""Two server processes on one database: deactivating a user through one instance stops
its token on the other within the active-check cache time (the truth is in the
database, not in any process)."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from app.auth.issue import token_for_user
from app.cli import run_migrations
from app.core.db import make_engine
from app.models.organisation import Organisation, OrgKind, Role, User
from tests.conftest import BACKEND
from tests.fixtures import FAST_HASH

ROOT = Path(__file__).resolve().parents[2]
CACHE_SECONDS = 1.0


@pytest.fixture
def database_url() -> Iterator[str]:
    """A database of its own (committed rows, unlike the rolled-back test session)."""
    if BACKEND != "postgres":
        with tempfile.TemporaryDirectory(prefix="throughcare-xproc-") as tmp:
            yield f"sqlite:///{tmp}/xproc.db"
        return
    import psycopg

    admin = os.environ.get("THROUGHCARE_TEST_POSTGRES_URL") or (
        "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    name = f"tc_xproc_{uuid.uuid4().hex[:12]}"
    dsn = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "THROUGHCARE_DATABASE_URL": url,
        "THROUGHCARE_ACTIVE_CHECK_CACHE_SECONDS": str(CACHE_SECONDS),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
    }
    cmd = [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


def test_deactivation_on_one_instance_stops_the_token_on_another(database_url: str) -> None:
    run_migrations(database_url)
    engine = make_engine(database_url)
    with Session(engine, expire_on_commit=False) as session:
        org = Organisation(name="Test Probation", kind=OrgKind.probation)
        session.add(org)
        session.flush()
        worker, admin = (
            User(username=name, role=role, organisation_id=org.id, password_hash=FAST_HASH)
            for name, role in (("worker", Role.practitioner), ("admin", Role.org_admin))
        )
        session.add_all([worker, admin])
        session.commit()
    engine.dispose()
    token = {"Authorization": f"Bearer {token_for_user(worker, org).access_token}"}
    admin_token = {"Authorization": f"Bearer {token_for_user(admin, org).access_token}"}
    servers = [_serve(database_url) for _ in range(2)]
    try:
        (_, a), (_, b) = servers
        assert httpx.get(f"{b}/api/v1/me", headers=token).status_code == 200
        off = httpx.patch(
            f"{a}/api/v1/admin/users/{worker.id}", json={"active": False}, headers=admin_token
        )
        assert off.status_code == 200, off.text
        deactivated = time.monotonic()
        assert httpx.get(f"{a}/api/v1/me", headers=token).status_code == 401
        while (status := httpx.get(f"{b}/api/v1/me", headers=token).status_code) == 200:
            assert time.monotonic() - deactivated < CACHE_SECONDS + 2, "still accepted"
            time.sleep(0.05)
        assert status == 401
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=10)
