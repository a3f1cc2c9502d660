"""Retention: stale draft referrals deleted; records of long-ended interventions purged.

The access log is never touched (it has no foreign key to the records): each purged
person and each deleted draft gets one more event saying so, so the chains still verify.
`plan` is what `run` removes, so the dry run lists exactly what the real run deletes.
"""

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select, update
from sqlmodel import Session, SQLModel

from app.core.settings import Settings
from app.models.organisation import User
from app.models.participant import Participant
from app.models.referral import Referral, ReferralStatus
from app.sharing.audit import EventDraft, append_events

# Never purged: the disclosure log and its chain, and shared reference data.
_KEPT = frozenset({"access_events", "audit_chain_heads", "users", "participants"})
ACTOR = "system:retention"


def plan(session: Session, now: datetime, settings: Settings) -> dict[str, Any]:
    """What a run at `now` would remove: draft referral ids and participant ids."""
    draft_cutoff = now - timedelta(days=settings.retention_draft_referral_days)
    ended_cutoff = _years_before(now.date(), settings.retention_ended_years)
    referrals: Table = Referral.__table__  # type: ignore[attr-defined]
    participants: Table = Participant.__table__  # type: ignore[attr-defined]
    conn = session.connection()
    drafts = conn.execute(
        select(referrals.c.id)
        .where(
            referrals.c.status == str(ReferralStatus.draft),
            referrals.c.updated_at < draft_cutoff,
        )
        .order_by(referrals.c.id)
    ).scalars()
    people = conn.execute(
        select(participants.c.id)
        .where(
            participants.c.intervention_end.is_not(None),
            participants.c.intervention_end < ended_cutoff,
        )
        .order_by(participants.c.id)
    ).scalars()
    return {
        "draft_referrals": [str(r) for r in drafts],
        "participants": [str(p) for p in people],
        "ended_before": ended_cutoff,
        "drafts_untouched_since": draft_cutoff,
    }


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _purge_tables() -> list[Table]:
    """Tables holding a participant's records, children before parents."""
    return [
        t
        for t in reversed(SQLModel.metadata.sorted_tables)
        if t.name not in _KEPT and "participant_id" in t.c
    ]


def run(session: Session, now: datetime, settings: Settings) -> dict[str, Any]:
    """Delete what `plan` lists, and record each removal in the access log (flushes)."""
    found = plan(session, now, settings)
    conn = session.connection()
    drafts = [uuid.UUID(r) for r in found["draft_referrals"]]
    people = [uuid.UUID(p) for p in found["participants"]]
    referrals: Table = Referral.__table__  # type: ignore[attr-defined]
    for table in reversed(SQLModel.metadata.sorted_tables):
        for fk in table.foreign_keys:
            if fk.column.table is referrals and drafts:
                conn.execute(delete(table).where(fk.parent.in_(drafts)))
    if drafts:
        conn.execute(delete(referrals).where(referrals.c.id.in_(drafts)))
    if people:
        tables = _purge_tables()
        for table in tables:
            # Rows of other tables pointing at these rows (e.g. referral transitions) first.
            for child in reversed(SQLModel.metadata.sorted_tables):
                for fk in child.foreign_keys:
                    if fk.column.table is table and "participant_id" not in child.c:
                        ids = select(table.c[fk.column.name]).where(
                            table.c.participant_id.in_(people)
                        )
                        conn.execute(delete(child).where(fk.parent.in_(ids)))
            conn.execute(delete(table).where(table.c.participant_id.in_(people)))
        users: Table = User.__table__  # type: ignore[attr-defined]
        conn.execute(
            update(users)
            .where(users.c.participant_id.in_(people))
            .values(active=False, participant_id=None)
        )
        participants: Table = Participant.__table__  # type: ignore[attr-defined]
        conn.execute(delete(participants).where(participants.c.id.in_(people)))
    events = [_event(p, "participant", str(p), now) for p in people]
    events += [_event(None, "referral", str(r), now) for r in drafts]
    append_events(session, events)
    session.flush()
    # The rows went by Core statements: the ORM must not keep serving them.
    session.expire_all()
    return found


def _event(pid: uuid.UUID | None, resource: str, rid: str, now: datetime) -> EventDraft:
    return EventDraft(
        actor=ACTOR,
        actor_org_id=None,
        actor_role="system",
        participant_id=pid,
        action="retention_purge",
        resource=resource,
        resource_id=rid,
        purpose="retention",
        request_id=f"retention-{now:%Y%m%dT%H%M%S}",
        outcome="allowed",
        occurred_at=now,
    )
