"""Notices to the caller's organisation (break-glass alerts, referral outcomes)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import col, select

from app.auth.guards import AUTH_ERRORS, AnyCaller
from app.core.db import DbSession
from app.core.errors import Conflict, NotFound, error_responses
from app.core.pagination import Page, PageParams, page_params, paginate
from app.models.base import utcnow
from app.models.notice import Notice, NoticeRead

router = APIRouter(prefix="/api/v1/notices", tags=["notices"], responses=AUTH_ERRORS)
Paging = Annotated[PageParams, Depends(page_params)]


@router.get("", response_model=Page[NoticeRead])
async def list_notices(
    caller: AnyCaller,
    session: DbSession,
    paging: Paging,
    unacknowledged: Annotated[bool, Query(description="Only those not yet acknowledged")] = False,
) -> Page[NoticeRead]:
    """Notices addressed to the caller's organisation, oldest first."""
    stmt = select(Notice).where(Notice.organisation_id == caller.org_id)
    if unacknowledged:
        stmt = stmt.where(col(Notice.acknowledged_at).is_(None))
    rows, cursor = paginate(session, stmt, [Notice.created_at, Notice.id], paging)
    return Page(items=[NoticeRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/{notice_id}/acknowledge",
    response_model=NoticeRead,
    responses=error_responses(NotFound, Conflict),
)
async def acknowledge_notice(
    caller: AnyCaller, session: DbSession, notice_id: uuid.UUID
) -> NoticeRead:
    """Acknowledge a notice addressed to the caller's organisation."""
    notice = session.get(Notice, notice_id)
    if notice is None or notice.organisation_id != caller.org_id:
        raise NotFound("No such notice.")
    if notice.acknowledged_at is not None:
        raise Conflict("Already acknowledged.")
    notice.acknowledged_at = utcnow()
    notice.acknowledged_by = caller.subject
    session.add(notice)
    session.flush()
    return NoticeRead.model_validate(notice)
