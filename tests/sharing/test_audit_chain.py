"""The disclosure log's hash chain: any altered, inserted or deleted row is detected."""

import itertools
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from app.models.audit import AccessEvent, AuditChainHead
from app.sharing.audit import EventDraft, append_events, event_hash, stripe_for, verify_chain


def _drafts(n: int, participant: uuid.UUID | None = None) -> list[EventDraft]:
    """`n` events about one participant (one stripe), or each about a new one."""
    return [
        EventDraft(
            actor=f"user:{i}",
            actor_org_id=uuid.uuid4(),
            actor_role="practitioner",
            participant_id=participant or uuid.uuid4(),
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
    """Drop the append-only and linking triggers inside the test's rolled-back transaction
    (what an owner of the tables could do)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER access_events_no_change ON access_events"))
        session.execute(text("DROP TRIGGER access_events_link ON access_events"))
    else:
        for name in ("no_update", "no_delete", "link", "advance"):
            session.execute(text(f"DROP TRIGGER access_events_{name}"))


@pytest.fixture
def chain(db: Session) -> list[dict[str, Any]]:
    before = verify_chain(db)
    assert before.ok
    rows = append_events(db, _drafts(6, participant=uuid.uuid4()))
    assert verify_chain(db).ok
    return rows


def _delete(db: Session, row: dict[str, Any]) -> None:
    db.execute(
        text("DELETE FROM access_events WHERE stripe = :t AND seq = :s"),
        {"t": row["stripe"], "s": row["seq"]},
    )


def test_intact_chain_verifies(db: Session, chain: list[dict[str, Any]]) -> None:
    result = verify_chain(db)
    assert result.ok and result.rows >= 6


def test_altered_row_is_detected(db: Session, chain: list[dict[str, Any]]) -> None:
    _unguard(db)
    target, stripe = chain[2]["seq"], chain[2]["stripe"]
    db.execute(
        text("UPDATE access_events SET outcome = 'denied' WHERE stripe = :t AND seq = :s"),
        {"s": target, "t": stripe},
    )
    db.expire_all()
    result = verify_chain(db)
    assert not result.ok and result.first_broken_seq == target


def test_deleted_row_is_detected(db: Session, chain: list[dict[str, Any]]) -> None:
    _unguard(db)
    target = chain[3]["seq"]
    _delete(db, chain[3])
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
    _delete(db, victim)
    db.flush()
    db.expunge_all()
    db.add(AccessEvent(**values))
    db.flush()
    db.expire_all()
    result = verify_chain(db)
    assert not result.ok and result.first_broken_seq == victim["seq"] + 1


def test_removed_tail_is_detected(db: Session, chain: list[dict[str, Any]]) -> None:
    _unguard(db)
    _delete(db, chain[-1])
    db.expire_all()
    assert not verify_chain(db).ok


def test_database_refuses_update_and_delete(db: Session, chain: list[dict[str, Any]]) -> None:
    from sqlalchemy.exc import DBAPIError

    for statement in (
        "UPDATE access_events SET outcome = 'x' WHERE stripe = :t AND seq = :s",
        "DELETE FROM access_events WHERE stripe = :t AND seq = :s",
    ):
        with pytest.raises(DBAPIError), db.begin_nested():
            db.execute(text(statement), {"s": chain[0]["seq"], "t": chain[0]["stripe"]})


def test_rows_are_ordered_and_linked(db: Session, chain: list[dict[str, Any]]) -> None:
    (stripe,) = {r["stripe"] for r in chain}
    rows = db.exec(
        select(AccessEvent)
        .where(AccessEvent.stripe == stripe, col(AccessEvent.seq).in_([r["seq"] for r in chain]))
        .order_by(col(AccessEvent.seq))
    ).all()
    assert len(rows) == 6
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash and after.seq == before.seq + 1


def test_events_go_to_their_participants_stripe_and_form_one_chain_each(db: Session) -> None:
    """One request touching several people: each row lands on its person's stripe, in order,
    and the heads of all touched stripes advance."""
    people = [uuid.uuid4() for _ in range(5)]
    drafts = [d for p in people for d in _drafts(2, participant=p)]
    drafts.append(_drafts(1)[0])
    drafts[-1].participant_id = None
    rows = append_events(db, list(reversed(drafts)))
    assert {r["stripe"] for r in rows} == {stripe_for(p) for p in people} | {0}
    for person in people:
        mine = [r for r in rows if r["participant_id"] == person]
        assert mine[1]["seq"] == mine[0]["seq"] + 1 or stripe_for(person) in {
            stripe_for(p) for p in people if p != person
        }
    for stripe in {r["stripe"] for r in rows}:
        head = db.get(AuditChainHead, stripe)
        assert (
            head is not None and head.hash == [r for r in rows if r["stripe"] == stripe][-1]["hash"]
        )
    assert verify_chain(db).ok


def test_database_refuses_a_row_that_does_not_link_to_its_head(
    db: Session, chain: list[dict[str, Any]]
) -> None:
    """Even a writer that may INSERT cannot fork or splice the chain: the trigger checks
    that each new row continues its stripe's head."""
    from sqlalchemy.exc import DBAPIError

    last = dict(chain[-1])
    forged = {**last, "seq": last["seq"] + 1, "prev_hash": "f" * 64, "outcome": "denied"}
    forged["hash"] = event_hash(forged)
    replay = {**last}  # the same position again
    for values in (forged, replay):
        with pytest.raises(DBAPIError), db.begin_nested():
            db.execute(AccessEvent.__table__.insert(), [values])  # type: ignore[attr-defined]
    assert verify_chain(db).ok
