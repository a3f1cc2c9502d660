"""Notices to the caller's organisation (break-glass alerts, referral outcomes)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.guards import AUTH_ERRORS
from app.core.errors import Conflict, Forbidden, NotFound, error_responses
from app.core.pagination import Page, Paging
from app.models.notice import NoticeRead
from app.services import notices as service
from app.sharing.deps import gate_with
from app.sharing.gate import SharingGate

router = APIRouter(prefix="/api/v1/notices", tags=["notices"], responses=AUTH_ERRORS)
# Any authenticated caller (no scope): the policy keeps participant tokens out, and the
# gate records the people each answer names.
NoticesGate = Annotated[SharingGate, gate_with()]


@router.get("", response_model=Page[NoticeRead], responses=error_responses(Forbidden))
def list_notices(
    gate: NoticesGate,
    paging: Paging,
    unacknowledged: Annotated[bool, Query(description="Only those not yet acknowledged")] = False,
) -> Page[NoticeRead]:
    """Notices addressed to the caller's organisation, oldest first (staff and systems)."""
    rows, cursor = service.list_notices(gate, paging, unacknowledged)
    return Page(items=[NoticeRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/{notice_id}/acknowledge",
    response_model=NoticeRead,
    responses=error_responses(NotFound, Conflict, Forbidden),
)
def acknowledge_notice(gate: NoticesGate, notice_id: uuid.UUID) -> NoticeRead:
    """Acknowledge a notice addressed to the caller's organisation."""
    return NoticeRead.model_validate(service.acknowledge_notice(gate, notice_id))
