"""Release readiness: the checklist before release, and the caseload's upcoming releases."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.guards import AUTH_ERRORS
from app.core.errors import NotFound, error_responses
from app.core.settings import get_settings
from app.models.readiness import ReleaseReadiness, UpcomingRelease
from app.services.release_readiness import release_readiness, upcoming_releases
from app.sharing.deps import ParticipantsRead

router = APIRouter(prefix="/api/v1", tags=["release"], responses=AUTH_ERRORS)


@router.get(
    "/participants/{participant_id}/release-readiness",
    response_model=ReleaseReadiness,
    responses=error_responses(NotFound),
)
async def read_release_readiness(
    gate: ParticipantsRead, participant_id: uuid.UUID
) -> ReleaseReadiness:
    """The release checklist: each item met, not met, unknown (withheld) or not recorded."""
    participant = gate.participant(participant_id, resource="release_readiness")
    return release_readiness(gate, participant)


@router.get("/caseload/releases", response_model=list[UpcomingRelease])
async def list_upcoming_releases(
    gate: ParticipantsRead,
    within_days: Annotated[int, Query(ge=0, le=365)] = 14,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> list[UpcomingRelease]:
    """The caller's participants due for release within `within_days`, with open items."""
    cap = get_settings().max_page_size
    return upcoming_releases(gate, within_days, min(limit or cap, cap))
