"""Issue 13's migration keeps referrals closed before the reason codes valid: a declined or
withdrawn referral with free text only is counted as `other`, its text kept."""

import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import text

from app.core.db import make_engine
from tests.migrations.test_migrations import _alembic

BEFORE = "98e90ab7c109"  # the head before migrations/versions/13_…


def test_old_closed_referrals_get_the_code_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/codes.db"
    config = _alembic(url)
    command.upgrade(config, BEFORE)
    engine = make_engine(url)
    org, person = uuid.uuid4().hex, uuid.uuid4().hex
    rows = {status: uuid.uuid4().hex for status in ("declined", "withdrawn", "accepted")}
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO organisations (id, name, kind, active, created_at) "
                    "VALUES (:id, 'Synthetic org', 'housing', 1, '2026-01-01 00:00:00')"
                ),
                {"id": org},
            )
            connection.execute(
                text(
                    "INSERT INTO participants (id, given_name, family_name, source_org_id, "
                    "phase, version, created_at, updated_at) VALUES (:id, 'Sam', 'Example', "
                    ":org, 'custody', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"id": person, "org": org},
            )
            for status, rid in rows.items():
                connection.execute(
                    text(
                        "INSERT INTO referrals (id, participant_id, from_org_id, to_org_id, "
                        "reason, urgency, categories, status, decline_reason, created_by, "
                        "version, created_at, updated_at) VALUES (:id, :p, :o, :o, 'Housing', "
                        "'routine', '[\"identity\"]', :status, :why, 'test', 1, "
                        "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                    ),
                    {
                        "id": rid,
                        "p": person,
                        "o": org,
                        "status": status,
                        "why": "No capacity" if status == "declined" else None,
                    },
                )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            got = {
                row.status: (row.decline_code, row.withdraw_code, row.decline_reason)
                for row in connection.execute(
                    text(
                        "SELECT status, decline_code, withdraw_code, decline_reason FROM referrals"
                    )
                )
            }
        assert got == {
            "declined": ("other", None, "No capacity"),
            "withdrawn": (None, "other", None),
            "accepted": (None, None, None),
        }
        command.downgrade(config, BEFORE)  # and back, reversibly
    finally:
        engine.dispose()
