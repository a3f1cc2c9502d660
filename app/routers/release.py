"""Release readiness: the checklist before release, and the caseload's upcoming releases."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.guards import AUTH_ERRORS
from app.core.errors import NotFound, error_responses
from app.core.pagination import Page, Paging
from app.models.readiness import ReleaseReadiness, UpcomingRelease
from app.services.release_readiness import release_readiness, upcoming_releases
from app.sharing.deps import ParticipantsRead

router = APIRouter(prefix="/api/v1", tags=["release"], responses=AUTH_ERRORS)


@router.get(
    "/participants/{participant_id}/release-readiness",
    response_model=ReleaseReadiness,
    responses=error_responses(NotFound),
)
def read_release_readiness(gate: ParticipantsRead, participant_id: uuid.UUID) -> ReleaseReadiness:
    """The release checklist: each item met, not met, unknown (withheld) or not recorded."""
    participant = gate.participant(participant_id, resource="release_readiness")
    return release_readiness(gate, participant)


@router.get("/caseload/releases", response_model=Page[UpcomingRelease])
def list_upcoming_releases(
    gate: ParticipantsRead,
    paging: Paging,
    within_days: Annotated[int, Query(ge=0, le=365)] = 14,
) -> Page[UpcomingRelease]:
    """The caller's participants due for release within `within_days`, with open items."""
    items, cursor = upcoming_releases(gate, within_days, paging)
    return Page(items=items, next_cursor=cursor)
