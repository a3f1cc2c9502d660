"""The disclosure log's hash chain: any altered, inserted or deleted row is detected."""

import itertools
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.models.audit import AccessEvent
from app.sharing.audit import EventDraft, append_events, event_hash, verify_chain


def _drafts(n: int) -> list[EventDraft]:
    return [
        EventDraft(
            actor=f"user:{i}",
            actor_org_id=uuid.uuid4(),
            actor_role="practitioner",
            participant_id=uuid.uuid4(),
            action="read",
            resource="participant",
            purpose="direct_care",
            request_id=f"req{i:08d}",
            outcome="allowed",
            categories=["identity", "risk"],
            basis=[{"category": "risk", "basis": "protocol", "protocol_version": 3}],
        )
        for i in range(n)
    ]


def _unguard(session: Session) -> None:
    """Drop the append-only trigger inside the test's rolled-back transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER access_events_no_change ON access_events"))
    else:
        session.execute(text("DROP TRIGGER access_events_no_update"))
        session.execute(text("DROP TRIGGER access_events_no_delete"))


@pytest.fixture
def chain(db: Session) -> list[dict[str, Any]]:
    before = verify_chain(db)
    assert before.ok
    rows = append_events(db, _drafts(6))
    assert verify_chain(db).ok
    return rows


def test_intact_chain_verifies(db: Session, chain: list[dict[str, Any]]) -> None:
    result = verify_chain(db)
    assert result.ok and result.rows >= 6


def test_altered_row_is_detected(db: Session, chain: list[dict[str, Any]]) -> None:
    _unguard(db)
    target = chain[2]["seq"]
    db.execute(text("UPDATE access_events SET outcome = 'denied' WHERE seq = :s"), {"s": target})
    db.expire_all()
    result = verify_chain(db)
    assert not result.ok and result.first_broken_seq == target


def test_deleted_row_is_detected(db: Session, chain: list[dict[str, Any]]) -> None:
    _unguard(db)
    target = chain[3]["seq"]
    db.execute(text("DELETE FROM access_events WHERE seq = :s"), {"s": target})
    db.expire_all()
    result = verify_chain(db)
    assert not result.ok and result.first_broken_seq == target


def test_replaced_row_with_valid_own_hash_is_detected(
    db: Session, chain: list[dict[str, Any]]
) -> None:
    """A forger who recomputes the row's own hash still breaks the link to the next row."""
    _unguard(db)
    victim = chain[1]
    values: dict[str, Any] = dict(victim)
    values["categories"] = []  # hide that risk information was disclosed
    values["hash"] = event_hash(values)
    db.execute(text("DELETE FROM access_events WHERE seq = :s"), {"s": victim["seq"]})
    db.flush()
    db.expunge_all()
    db.add(AccessEvent(**values))
    db.flush()
    db.expire_all()
    result = verify_chain(db)
    assert not result.ok and result.first_broken_seq == victim["seq"] + 1


def test_removed_tail_is_detected(db: Session, chain: list[dict[str, Any]]) -> None:
    _unguard(db)
    db.execute(text("DELETE FROM access_events WHERE seq = :s"), {"s": chain[-1]["seq"]})
    db.expire_all()
    assert not verify_chain(db).ok


def test_database_refuses_update_and_delete(db: Session, chain: list[dict[str, Any]]) -> None:
    from sqlalchemy.exc import DBAPIError

    for statement in (
        "UPDATE access_events SET outcome = 'x' WHERE seq = :s",
        "DELETE FROM access_events WHERE seq = :s",
    ):
        with pytest.raises(DBAPIError), db.begin_nested():
            db.execute(text(statement), {"s": chain[0]["seq"]})


def test_rows_are_ordered_and_linked(db: Session, chain: list[dict[str, Any]]) -> None:
    rows = db.exec(
        select(AccessEvent)
        .where(col(AccessEvent.seq).in_([r["seq"] for r in chain]))
        .order_by(col(AccessEvent.seq))
    ).all()
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash and after.seq == before.seq + 1
