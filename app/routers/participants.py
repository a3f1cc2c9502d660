"""Participants: register, list, read and update (redacted by the sharing core)."""

import uuid
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Request, status
from fastapi.responses import JSONResponse

from app.auth.guards import AUTH_ERRORS
from app.core.errors import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
    error_responses,
)
from app.core.pagination import Page, Paging
from app.models.participant import (
    Participant,
    ParticipantCreate,
    ParticipantRead,
    ParticipantUpdate,
    Phase,
)
from app.services import participants as service
from app.services.idempotency import request_fingerprint, run_idempotent
from app.sharing.deps import ParticipantsRead, ParticipantsWrite, one_hop

router = APIRouter(prefix="/api/v1/participants", tags=["participants"], responses=AUTH_ERRORS)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe creation (scoped to the caller)."),
]


_PAGE = Page[ParticipantRead]


class _RenderedJSON(JSONResponse):
    """A JSON response whose body pydantic has already serialised (compact, UTF-8)."""

    def render(self, content: Any) -> bytes:
        return cast(bytes, content)


def _json(body: dict[str, Any], status_code: int, headers: dict[str, str]) -> JSONResponse:
    # Validated once against the response model and serialised straight to JSON bytes
    # (the same body as model_dump(mode="json") + json.dumps, one pass fewer). The ETag
    # is the hash of exactly these bytes: it moves only with what the caller may see.
    rendered = service.render_participant(body)
    headers = {**headers, "ETag": service.participant_etag(rendered)}
    return _RenderedJSON(rendered, status_code=status_code, headers=headers)


def _problem(error: Conflict, instance: str) -> dict[str, Any]:
    # The body the error handler would render, for an answer returned rather than raised.
    return {
        "type": PROBLEM_BASE + error.slug,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": instance,
    }


@router.get("", response_model=Page[ParticipantRead], response_model_exclude_unset=True)
@one_hop
def list_participants(
    gate: ParticipantsRead, paging: Paging, phase: Phase | None = None
) -> JSONResponse:
    """Participants the caller's organisation has a relationship with (redacted).

    `phase` matches only participants whose custody details the caller may see.
    """
    items, cursor = service.list_participants(gate, paging, phase)
    # Validated once against the declared response model (not again by FastAPI).
    page = _PAGE.model_validate({"items": items, "next_cursor": cursor})
    return _RenderedJSON(page.model_dump_json(exclude_unset=True).encode())


@router.post(
    "",
    response_model=ParticipantRead,
    response_model_exclude_unset=True,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict, Forbidden, Unprocessable),
)
def register_participant(
    gate: ParticipantsWrite,
    data: ParticipantCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Register a participant; the caller's organisation becomes the lead.

    409 when an identifier is already registered, with the same answer whichever
    identifier matched and whoever holds it (the match is recorded in their disclosure
    log and their lead organisation is told).
    """

    def create() -> tuple[int, dict[str, Any], str | None]:
        try:
            body = ParticipantRead.model_validate(service.register_participant(gate, data))
        except service.IdentifierTaken as taken:
            # Answered, not raised: the recorded match and the notice must be committed.
            return taken.status, _problem(taken, request.url.path), None
        return 201, body.model_dump(mode="json"), str(body.id)

    outcome = run_idempotent(
        gate.session,
        gate.caller,
        "participants",
        idempotency_key,
        request_fingerprint(request.url.path, data.model_dump(mode="json")),
        create,
    )
    if outcome.status_code == status.HTTP_409_CONFLICT:
        if outcome.replayed:
            # Told again: recorded again (the holders were told the first time).
            holders = service.identifier_holders(gate, data.model_dump())
            service.record_identifier_match(gate, holders, notify=False)
        return JSONResponse(outcome.body, status_code=outcome.status_code, media_type=PROBLEM_JSON)
    if outcome.replayed and outcome.resource_id:
        service.record_replay(gate, uuid.UUID(outcome.resource_id), outcome.body)
    headers = {"Location": f"/api/v1/participants/{outcome.resource_id}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(outcome.body, outcome.status_code, headers)


@router.get(
    "/{participant_id}",
    response_model=ParticipantRead,
    response_model_exclude_unset=True,
    responses=error_responses(NotFound),
)
@one_hop
def read_participant(gate: ParticipantsRead, participant_id: uuid.UUID) -> JSONResponse:
    """One participant, with the fields the caller may see and `withheld` for the rest."""
    # A read-only snapshot (one statement, no ORM identity map) has the attributes the
    # view reads; the redacted body is validated once, here, against the response model.
    participant = cast(Participant, gate.participant_snapshot(participant_id))
    body = service.participant_view(gate, participant)
    return _json(body, 200, {})


@router.patch(
    "/{participant_id}",
    response_model=ParticipantRead,
    response_model_exclude_unset=True,
    responses=error_responses(
        NotFound, Forbidden, Conflict, PreconditionFailed, PreconditionRequired, Unprocessable
    ),
)
def update_participant(
    gate: ParticipantsWrite,
    participant_id: uuid.UUID,
    data: ParticipantUpdate,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> JSONResponse:
    """Update a participant (If-Match required: 428 without it, 412 when stale)."""
    body = service.update_participant(gate, participant_id, data, if_match)
    return _json(body, 200, {})
