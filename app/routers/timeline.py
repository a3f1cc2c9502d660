"""The participant's timeline across the shared care record."""

import uuid

from fastapi import APIRouter

from app.auth.guards import AUTH_ERRORS
from app.core.errors import NotFound, error_responses
from app.core.pagination import Paging
from app.core.rendered import RenderedJSON, rendered
from app.models.listing import RecordPage
from app.models.timeline import TimelineEntry
from app.services import timeline as service
from app.sharing.deps import RecordsRead, one_hop

router = APIRouter(prefix="/api/v1/participants", tags=["timeline"], responses=AUTH_ERRORS)


@router.get(
    "/{participant_id}/timeline",
    response_model=RecordPage[TimelineEntry],
    responses=error_responses(NotFound),
)
@one_hop
def read_timeline(
    gate: RecordsRead,
    participant_id: uuid.UUID,
    paging: Paging,
) -> RenderedJSON:
    """Everything the caller may see about the participant, newest first; withheld
    records appear only as counts per category with the reason."""
    # Built as a RecordPage[TimelineEntry]: sent as it is, not validated again.
    return rendered(service.timeline(gate, participant_id, paging))
