"""Notices to an organisation's staff (break-glass alerts, referral outcomes)."""

import uuid

from sqlmodel import Session, col, select

from app.auth.caller import Caller
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import PageParams, paginate
from app.models.base import utcnow
from app.models.notice import Notice
from app.services.consent_notices import record_acknowledgement


def _staff_only(caller: Caller) -> None:
    # A participant account belongs to an organisation too, but notices are about other
    # people's records: never theirs to read or to acknowledge.
    if caller.is_participant:
        raise Forbidden("Notices are for organisations' staff and systems.")


def list_notices(
    session: Session, caller: Caller, paging: PageParams, unacknowledged: bool
) -> tuple[list[Notice], str | None]:
    """Notices addressed to the caller's organisation, oldest first."""
    _staff_only(caller)
    stmt = select(Notice).where(Notice.organisation_id == caller.org_id)
    if unacknowledged:
        stmt = stmt.where(col(Notice.acknowledged_at).is_(None))
    return paginate(session, stmt, [Notice.created_at, Notice.id], paging)


def acknowledge_notice(session: Session, caller: Caller, notice_id: uuid.UUID) -> Notice:
    """Mark a notice of the caller's organisation as acknowledged."""
    _staff_only(caller)
    notice = session.get(Notice, notice_id)
    if notice is None or notice.organisation_id != caller.org_id:
        raise NotFound("No such notice.")
    if notice.acknowledged_at is not None:
        raise Conflict("Already acknowledged.")
    notice.acknowledged_at = utcnow()
    notice.acknowledged_by = caller.subject
    session.add(notice)
    session.flush()
    record_acknowledgement(session, caller, notice)
    return notice
