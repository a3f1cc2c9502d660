"""Least privilege on PostgreSQL: the service's role cannot rewrite the access log.

A fresh database owned by a fresh (non-superuser) owner role, migrated as that owner;
`throughcare db grant` gives a fresh application role its privileges. Both roles have
names unique to the run and are dropped afterwards.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import errors
from psycopg.types.json import Jsonb
from sqlmodel import Session

from app.cli import run_migrations
from app.core.db import make_engine
from app.sharing.audit import append_events
from tests.audit.env import clear_caches, cli_json, draft, pg_admin, pg_url

pytestmark = pytest.mark.postgres


@dataclass
class Roles:
    owner: str
    app: str
    owner_url: str
    app_url: str

    def app_conn(self) -> psycopg.Connection:
        return psycopg.connect(self.app_url.replace("+psycopg", ""), connect_timeout=5)


@pytest.fixture
def roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Roles]:
    tag = uuid.uuid4().hex[:10]
    owner, app_role, database = f"tc_owner_{tag}", f"tc_app_{tag}", f"tc_roles_{tag}"
    pg_admin(f'CREATE ROLE "{owner}" LOGIN NOSUPERUSER')
    pg_admin(f'CREATE ROLE "{app_role}" LOGIN NOSUPERUSER')
    pg_admin(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    found = Roles(owner, app_role, pg_url(database, owner), pg_url(database, app_role))
    clear_caches()
    monkeypatch.setenv("THROUGHCARE_DATABASE_URL", found.app_url)
    monkeypatch.setenv("THROUGHCARE_MIGRATION_DATABASE_URL", found.owner_url)
    monkeypatch.setenv("THROUGHCARE_AUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    monkeypatch.setenv("THROUGHCARE_AUDIT_CHECKPOINT_KEY_PATH", str(tmp_path / "cp.pem"))
    try:
        run_migrations()  # the owner URL, from the settings
        code, out = cli_json("db", "grant", "--role", app_role)
        assert code == 0 and out["granted"], out
        yield found
    finally:
        clear_caches()
        pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        pg_admin(f'DROP ROLE IF EXISTS "{app_role}"')
        pg_admin(f'DROP ROLE IF EXISTS "{owner}"')


def _append_as_app(roles: Roles, n: int) -> None:
    engine = make_engine(roles.app_url)
    try:
        for _ in range(n):
            with Session(engine) as session:
                append_events(session, [draft(uuid.uuid4()), draft(None)])
                session.commit()
    finally:
        engine.dispose()


ROWS = "SELECT stripe, seq, hash FROM access_events ORDER BY 1, 2"
REFUSED = [
    "UPDATE access_events SET outcome = 'denied'",
    "DELETE FROM access_events",
    "TRUNCATE access_events",
    "ALTER TABLE access_events DISABLE TRIGGER USER",
    "ALTER TABLE access_events DISABLE TRIGGER access_events_no_change",
    "DROP TRIGGER access_events_no_change ON access_events",
    "DROP TRIGGER access_events_link ON access_events",
    "CREATE TRIGGER sneak BEFORE INSERT ON access_events "
    "FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()",
    "ALTER FUNCTION access_events_link() SECURITY INVOKER",
    "DROP FUNCTION access_events_append_only() CASCADE",
    "SET session_replication_role = replica",
    "UPDATE audit_chain_heads SET seq = 0, hash = repeat('0', 64)",
    "DELETE FROM audit_chain_heads",
    "TRUNCATE audit_chain_heads",
    "INSERT INTO audit_chain_heads (stripe, seq, hash) VALUES (99, 0, repeat('0', 64))",
    "SELECT * FROM audit_chain_heads FOR UPDATE",
    "ALTER TABLE access_events DROP COLUMN hash",
    "DELETE FROM alembic_version",
]


def test_the_application_role_cannot_rewrite_history(roles: Roles) -> None:
    _append_as_app(roles, 3)
    with roles.app_conn() as conn:
        before = conn.execute(
            "SELECT stripe, seq, hash FROM access_events ORDER BY 1, 2"
        ).fetchall()
    assert len(before) == 6
    refused: list[str] = []
    for statement in REFUSED:
        with roles.app_conn() as conn:
            try:
                conn.execute(statement)  # type: ignore[arg-type]
            except errors.InsufficientPrivilege:
                refused.append(statement)
    assert refused == REFUSED
    with roles.app_conn() as conn:
        after = conn.execute(ROWS).fetchall()
        heads = conn.execute("SELECT sum(seq) FROM audit_chain_heads").fetchone()
    assert after == before and heads == (6,)
    code, out = cli_json("audit", "verify")  # as the application role: SELECT is enough
    assert code == 0 and out["rows"] == 6


def test_the_application_role_cannot_insert_a_row_that_breaks_the_chain(roles: Roles) -> None:
    """INSERT is allowed, but only of a row that continues its stripe's head."""
    _append_as_app(roles, 1)
    with roles.app_conn() as conn:
        cursor = conn.execute("SELECT * FROM access_events WHERE stripe = 0")
        columns = [c.name for c in cursor.description or []]
        row = cursor.fetchone()
    assert row is not None
    values = dict(zip(columns, row, strict=True))
    insert = (
        f"INSERT INTO access_events ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    for changes in ({"seq": 2, "prev_hash": "f" * 64}, {"seq": 1}, {"seq": 7}):
        forged = [Jsonb(v) if isinstance(v, list) else v for v in {**values, **changes}.values()]
        with roles.app_conn() as conn, pytest.raises(errors.RaiseException, match="link"):
            conn.execute(insert, forged)  # type: ignore[arg-type]


def test_truncate_is_refused_even_for_the_owner(roles: Roles) -> None:
    _append_as_app(roles, 1)
    with psycopg.connect(roles.owner_url.replace("+psycopg", "")) as conn:
        with pytest.raises(errors.RaiseException, match="append-only"):
            conn.execute("TRUNCATE access_events")
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM access_events").fetchone() == (2,)


def test_the_service_runs_as_the_application_role(roles: Roles) -> None:
    """Seeding, token, an audited read, a list, the disclosure log, checkpoint and verify."""
    code, seeded = cli_json("seed-demo")
    assert code == 0 and seeded["seeded"]
    from app.main import app

    with TestClient(app, raise_server_exceptions=False) as client:
        token = client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "coordinator",
                "password": seeded["password"],
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        listed = client.get("/api/v1/participants", headers=headers)
        assert listed.status_code == 200, listed.text
        pid = listed.json()["items"][0]["id"]
        assert client.get(f"/api/v1/participants/{pid}", headers=headers).status_code == 200
        log = client.get(f"/api/v1/participants/{pid}/disclosures", headers=headers)
        assert log.status_code == 200 and log.json()["items"], log.text
    assert cli_json("audit", "checkpoint")[0] == 0
    code, out = cli_json("audit", "verify")
    assert code == 0 and out["checkpoints"]["valid"] == 1 and out["rows"] >= 3


@pytest.mark.parametrize("who", ["owner", "superuser", "missing"])
def test_grant_refuses_a_role_that_could_act_as_owner(roles: Roles, who: str) -> None:
    role = {"owner": roles.owner, "superuser": "postgres", "missing": "tc_nobody_here"}[who]
    code, out = cli_json("db", "grant", "--role", role)
    assert code == 1 and role in out["error"]
