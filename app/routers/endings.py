"""Endings prepared from the start: one participant's checklist, and the caseload's endings."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from app.auth.guards import AUTH_ERRORS
from app.core.errors import (
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
    error_responses,
)
from app.core.etags import etag_for
from app.core.pagination import Page, Paging
from app.models.endings import Ending, EndingChecklistUpdate, UpcomingEnding
from app.services import endings
from app.sharing.deps import ParticipantsRead, PlansWrite

router = APIRouter(prefix="/api/v1", tags=["endings"], responses=AUTH_ERRORS)


@router.get(
    "/participants/{participant_id}/ending",
    response_model=Ending,
    operation_id="readEnding",
    responses=error_responses(NotFound),
)
def read_ending(gate: ParticipantsRead, participant_id: uuid.UUID, response: Response) -> Ending:
    """The ending checklist: end date, handover, the person told, the plan reviewed."""
    participant = gate.participant(participant_id, resource=endings.RESOURCE)
    view = endings.ending(gate, participant)
    response.headers["ETag"] = etag_for(endings.ETAG_KIND, view.version)
    return view


@router.put(
    "/participants/{participant_id}/ending",
    response_model=Ending,
    operation_id="recordEnding",
    responses=error_responses(
        NotFound, Forbidden, PreconditionFailed, PreconditionRequired, Unprocessable
    ),
)
def record_ending(
    gate: PlansWrite,
    participant_id: uuid.UUID,
    data: EndingChecklistUpdate,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> Ending:
    """Confirm the handover and that the person was told (lead organisation; If-Match)."""
    participant = gate.participant(participant_id, action="update", resource=endings.RESOURCE)
    view = endings.record_ending(gate, participant, data, if_match)
    response.headers["ETag"] = etag_for(endings.ETAG_KIND, view.version)
    return view


@router.get(
    "/caseload/endings",
    response_model=Page[UpcomingEnding],
    operation_id="listUpcomingEndings",
    responses=error_responses(Forbidden),
)
def list_upcoming_endings(
    gate: ParticipantsRead,
    paging: Paging,
    within_days: Annotated[int, Query(ge=0, le=365)] = 28,
) -> Page[UpcomingEnding]:
    """The caller's participants whose intervention ends soon, with open checklist items."""
    items, cursor = endings.upcoming_endings(gate, within_days, paging)
    return Page(items=items, next_cursor=cursor)
