"""Alembic migrations: a full up/down/up cycle, no drift from the models, append-only log."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

import app.models  # noqa: F401  (registers every table on the metadata)
from app.core.db import get_engine, make_engine, metadata
from app.models.audit import AccessEvent
from app.sharing.audit import EventDraft, append_events

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("THROUGHCARE_TEST_POSTGRES_URL") or (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _alembic(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    return config


def _event(seq: int) -> AccessEvent:
    return AccessEvent(
        seq=seq,
        actor="user:synthetic",
        actor_role="practitioner",
        action="read",
        resource="participant",
        categories=["identity"],
        withheld=[],
        basis=[],
        purpose="direct_care",
        request_id="req-migration-test",
        outcome="allowed",
        prev_hash="0" * 64,
        hash="1" * 64,
    )


def _assert_append_only(connection: Connection, seq: int, stripe: int = 0) -> None:
    """UPDATE and DELETE of an access event fail at the database; the row survives."""
    where = {"seq": seq, "stripe": stripe}
    for statement in (
        "UPDATE access_events SET outcome = 'denied' WHERE stripe = :stripe AND seq = :seq",
        "DELETE FROM access_events WHERE stripe = :stripe AND seq = :seq",
    ):
        savepoint = connection.begin_nested()
        with pytest.raises(DBAPIError, match="append-only"):
            connection.execute(text(statement), where)
        savepoint.rollback()
    outcome = connection.execute(
        text("SELECT outcome FROM access_events WHERE stripe = :stripe AND seq = :seq"), where
    ).scalar_one()
    assert outcome == "allowed"


def _cycle(url: str) -> None:
    config = _alembic(url)
    command.upgrade(config, "head")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
        assert {"organisations", "users", "api_clients", "access_events"} <= tables
        command.downgrade(config, "base")
        with engine.connect() as connection:
            left = set(inspect(connection).get_table_names()) - {"alembic_version"}
        assert left == set()
        command.upgrade(config, "head")
        _assert_no_drift(engine)
        # The append-only triggers come back with the second upgrade.
        with engine.connect() as connection, connection.begin():
            connection.execute(AccessEvent.__table__.insert(), [_event(1).model_dump()])  # type: ignore[attr-defined]
            _assert_append_only(connection, 1)
    finally:
        engine.dispose()


def _assert_no_drift(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], (
        "the models and the migrations differ; write a migration "
        f"(alembic revision --autogenerate): {differences}"
    )


def test_sqlite_upgrade_downgrade_upgrade(tmp_path: Path) -> None:
    _cycle(f"sqlite:///{tmp_path}/cycle.db")


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    import psycopg

    name = f"tc_mig_{uuid.uuid4().hex[:12]}"
    dsn = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.mark.postgres
def test_postgres_upgrade_downgrade_upgrade(fresh_postgres_url: str) -> None:
    _cycle(fresh_postgres_url)


def test_models_and_migrations_do_not_drift() -> None:
    """The test database (migrated by conftest, on this run's backend) matches the models."""
    _assert_no_drift(get_engine())


def test_access_events_refuse_update_and_delete(db: Session) -> None:
    # Appended through the chain: the insert trigger refuses a row that does not link.
    (row,) = append_events(
        db,
        [
            EventDraft(
                **{
                    k: v
                    for k, v in _event(0).model_dump().items()
                    if k in EventDraft.__dataclass_fields__
                }
            )
        ],
    )
    _assert_append_only(db.connection(), row["seq"], row["stripe"])
