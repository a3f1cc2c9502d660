"""The event feed: the pull alternative to webhooks, with the same filtering."""

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.guards import AUTH_ERRORS
from app.auth.scopes import Scope
from app.core.errors import Forbidden, Unprocessable, error_responses
from app.models.events import EventPage
from app.services.event_feed import list_events
from app.sharing.deps import gate_with
from app.sharing.gate import SharingGate

EventsRead = Annotated[SharingGate, gate_with(Scope.events_read)]
router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=AUTH_ERRORS)


@router.get("", response_model=EventPage, responses=error_responses(Forbidden, Unprocessable))
def read_events(
    gate: EventsRead,
    after: Annotated[
        str | None, Query(max_length=20, description="`next_cursor` of the previous page")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size (capped).")] = None,
) -> EventPage:
    """Events after the cursor, oldest first, that the organisation may learn of now."""
    return list_events(gate, after, limit)
