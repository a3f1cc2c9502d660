"""Break-glass access and its review queue."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.guards import AUTH_ERRORS
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, error_responses
from app.core.pagination import Page, Paging
from app.models.break_glass import BreakGlassCreate, BreakGlassRead, BreakGlassReviewCreate
from app.services import break_glass as service
from app.sharing.deps import AuditRead, BreakGlassGate

router = APIRouter(prefix="/api/v1", tags=["break-glass"], responses=AUTH_ERRORS)


@router.post(
    "/participants/{participant_id}/break-glass",
    response_model=BreakGlassRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotFound, Forbidden, Unprocessable),
)
def break_glass(
    gate: BreakGlassGate, participant_id: uuid.UUID, data: BreakGlassCreate
) -> BreakGlassRead:
    """Emergency access to named categories for a short time; audited and reviewed."""
    participant = gate.participant(participant_id, action="break_glass", resource="break_glass")
    return BreakGlassRead.model_validate(service.break_glass(gate, participant, data))


@router.get(
    "/break-glass", response_model=Page[BreakGlassRead], responses=error_responses(Forbidden)
)
def break_glass_queue(
    gate: AuditRead,
    paging: Paging,
    reviewed: Annotated[bool | None, Query(description="Filter by review state")] = None,
) -> Page[BreakGlassRead]:
    """Break-glass grants for a supervisor or org admin to review."""
    rows, cursor = service.review_queue(gate, paging, reviewed)
    return Page(items=[BreakGlassRead.model_validate(r) for r in rows], next_cursor=cursor)


@router.post(
    "/break-glass/{grant_id}/review",
    response_model=BreakGlassRead,
    responses=error_responses(NotFound, Forbidden, Conflict),
)
def review_break_glass(
    gate: AuditRead, grant_id: uuid.UUID, data: BreakGlassReviewCreate
) -> BreakGlassRead:
    """Mark a break-glass access as justified or not justified."""
    return BreakGlassRead.model_validate(service.review_grant(gate, grant_id, data))
