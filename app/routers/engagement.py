"""Engagement after release: the caseload view and one participant's detail."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.guards import AUTH_ERRORS
from app.core.errors import Forbidden, NotFound, error_responses
from app.core.pagination import Page, Paging
from app.models.engagement import Engagement, EngagementState, EngagementSummary
from app.services.engagement import engagement
from app.services.engagement_caseload import caseload_engagement
from app.services.engagement_notices import notices_on_read
from app.sharing.deps import ParticipantsRead

router = APIRouter(prefix="/api/v1", tags=["engagement"], responses=AUTH_ERRORS)


@router.get(
    "/participants/{participant_id}/engagement",
    response_model=Engagement,
    operation_id="readEngagement",
    responses=error_responses(NotFound),
)
def read_engagement(gate: ParticipantsRead, participant_id: uuid.UUID) -> Engagement:
    """Engagement since release per community service, with evidence ids (unknown: withheld)."""
    participant = gate.participant(participant_id, resource="engagement")
    view = engagement(gate, participant)
    notices_on_read(gate, view)
    return view


@router.get(
    "/caseload/engagement",
    response_model=Page[EngagementSummary],
    operation_id="listCaseloadEngagement",
    responses=error_responses(Forbidden),
)
def list_caseload_engagement(
    gate: ParticipantsRead,
    paging: Paging,
    state: EngagementState | None = None,
    released_within_days: Annotated[int | None, Query(ge=0, le=3650)] = None,
) -> Page[EngagementSummary]:
    """The caller's released participants, most recent release first, with their state."""
    items, cursor = caseload_engagement(
        gate, paging, state=state, released_within_days=released_within_days
    )
    return Page(items=items, next_cursor=cursor)
