"""Notices to an organisation's staff (break-glass alerts, referral outcomes, identifier
matches). Items name participants (and carry break-glass text), so every answer records
one access event per participant it names."""

import uuid

from sqlmodel import col, select

from app.core.errors import Conflict, NotFound
from app.core.pagination import PageParams, paginate
from app.models.notice import Notice
from app.sharing import policy
from app.sharing.gate import SharingGate

RESOURCE = "notice"


def _staff_only(gate: SharingGate, action: str) -> None:
    # A participant account belongs to an organisation too, but notices are about other
    # people's records: never theirs to read or to acknowledge.
    gate.authorize(policy.may_do_staff_work(gate.actor, policy.Work.read_notices), action, RESOURCE)


def list_notices(
    gate: SharingGate, paging: PageParams, unacknowledged: bool
) -> tuple[list[Notice], str | None]:
    """Notices addressed to the caller's organisation, oldest first (each person named on
    the page recorded once)."""
    _staff_only(gate, "list")
    stmt = select(Notice).where(Notice.organisation_id == gate.caller.org_id)
    if unacknowledged:
        stmt = stmt.where(col(Notice.acknowledged_at).is_(None))
    rows, cursor = paginate(gate.session, stmt, [Notice.created_at, Notice.id], paging)
    for row in rows:
        if row.participant_id is not None:
            gate.accessed(row.participant_id, action="list", resource=RESOURCE)
    return rows, cursor


def acknowledge_notice(gate: SharingGate, notice_id: uuid.UUID) -> Notice:
    """Mark a notice of the caller's organisation as acknowledged."""
    _staff_only(gate, "acknowledge")
    notice = gate.session.get(Notice, notice_id)
    if notice is None:
        raise NotFound("No such notice.")
    if notice.organisation_id != gate.caller.org_id:
        if notice.participant_id is not None:
            gate.deny(notice.participant_id, "acknowledge", RESOURCE, "not_addressee")
        raise NotFound("No such notice.")
    if notice.acknowledged_at is not None:
        raise Conflict("Already acknowledged.")
    notice.acknowledged_at = gate.now
    notice.acknowledged_by = gate.caller.subject
    gate.session.add(notice)
    gate.session.flush()
    if notice.participant_id is not None:
        # The answer is the notice again (participant id, message): audited as a read.
        gate.accessed(notice.participant_id, action="acknowledge", resource=RESOURCE)
    return notice
