"""A fresh, migrated database of this run's backend, with settings pointing at it."""

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from typer.testing import CliRunner

from app.cli import cli, run_migrations
from app.core.db import get_engine, make_engine
from app.core.settings import get_settings
from app.sharing.audit import EventDraft, append_events

BACKEND = os.environ.get("THROUGHCARE_TEST_BACKEND", "sqlite")
PG_ADMIN_URL = os.environ.get("THROUGHCARE_TEST_POSTGRES_URL") or (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def pg_admin(sql: str, dsn: str | None = None) -> None:
    """Run one statement on the PostgreSQL server as the test administrator."""
    url = dsn or PG_ADMIN_URL
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True, connect_timeout=5) as c:
        c.execute(sql)  # type: ignore[arg-type]


def pg_url(database: str, user: str | None = None) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    if user:
        base = base.replace("postgres@", f"{user}@", 1)
    return f"{base}/{database}"


def clear_caches() -> None:
    get_engine().dispose()
    get_engine.cache_clear()
    get_settings.cache_clear()


@dataclass
class Fresh:
    """The database URL, an owner engine on it, and where checkpoints go."""

    url: str
    owner: Engine
    tmp: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def checkpoint_file(self) -> Path:
        return self.tmp / "checkpoints" / "checkpoints.jsonl"

    def point_at(self, url: str) -> None:
        """Make the service (and the CLI) use another database URL."""
        clear_caches()
        self.monkeypatch.setenv("THROUGHCARE_DATABASE_URL", url)
        self.url = url


@contextmanager
def fresh_database(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fresh]:
    """A new database of the run's backend, migrated; dropped afterwards."""
    clear_caches()
    name = f"tc_audit_{uuid.uuid4().hex[:12]}"
    if BACKEND == "postgres":
        pg_admin(f'CREATE DATABASE "{name}"')
        url = pg_url(name)
    else:
        url = f"sqlite:///{tmp}/{name}.db"
    monkeypatch.setenv("THROUGHCARE_DATABASE_URL", url)
    monkeypatch.delenv("THROUGHCARE_MIGRATION_DATABASE_URL", raising=False)
    monkeypatch.setenv("THROUGHCARE_AUDIT_CHECKPOINT_DIR", str(tmp / "checkpoints"))
    monkeypatch.setenv("THROUGHCARE_AUDIT_CHECKPOINT_KEY_PATH", str(tmp / "keys" / "cp.pem"))
    run_migrations(url)
    owner = make_engine(url)
    try:
        yield Fresh(url, owner, tmp, monkeypatch)
    finally:
        owner.dispose()
        clear_caches()
        if BACKEND == "postgres":
            pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def draft(participant: uuid.UUID | None, i: int = 0) -> EventDraft:
    return EventDraft(
        actor=f"user:synthetic-{i}",
        actor_org_id=uuid.uuid4(),
        actor_role="practitioner",
        participant_id=participant,
        action="read",
        resource="participant",
        purpose="direct_care",
        request_id=f"req-{uuid.uuid4().hex[:16]}",
        outcome="allowed",
        categories=["identity", "mental_health"],
    )


def append_committed(engine: Engine, people: list[uuid.UUID | None], per: int) -> None:
    """`per` committed requests about each person, one event each."""
    for i in range(per):
        for person in people:
            with Session(engine) as session:
                append_events(session, [draft(person, i)])
                session.commit()


def cli_json(*args: str) -> tuple[int, dict[str, Any]]:
    """Run a `throughcare` command with --json; its exit code and JSON output."""
    result = CliRunner().invoke(cli, [*args, "--json"])
    lines = result.stdout.strip().splitlines()
    assert lines, (result.stdout, result.stderr, result.exception)
    return result.exit_code, json.loads(lines[-1])


def unguard(engine: Engine) -> None:
    """As the tables' owner: switch the append-only and linking triggers off."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE access_events DISABLE TRIGGER USER"))
            conn.execute(text("ALTER TABLE audit_chain_heads DISABLE TRIGGER USER"))
        else:
            for name in ("link", "advance", "no_update", "no_delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS access_events_{name}"))
