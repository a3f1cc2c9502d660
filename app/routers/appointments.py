"""Appointments: per participant, and the caller's organisation's reminder/follow-up lists."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth.guards import AUTH_ERRORS
from app.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unprocessable,
    error_responses,
    problem_response,
)
from app.core.etags import etag_for
from app.core.pagination import Paging
from app.models.appointment import AppointmentCreate, AppointmentRead, AppointmentUpdate
from app.models.listing import RecordPage
from app.services import appointments as service
from app.sharing.deps import RecordsRead, RecordsWrite

router = APIRouter(
    prefix="/api/v1/participants/{participant_id}/appointments",
    tags=["appointments"],
    responses={**AUTH_ERRORS, **error_responses(NotFound)},
)
worklists = APIRouter(prefix="/api/v1/appointments", tags=["appointments"], responses=AUTH_ERRORS)


def _clash(exc: service.AppointmentClash, request: Request) -> JSONResponse:
    # Answered, not raised: the request's audit (what the clash disclosed) still commits.
    return problem_response(
        exc.status, exc.title, exc.slug, request, exc.detail, extensions=exc.extensions
    )


@router.get("", response_model=RecordPage[AppointmentRead])
def list_appointments(
    gate: RecordsRead, participant_id: uuid.UUID, paging: Paging, include_cancelled: bool = True
) -> RecordPage[AppointmentRead]:
    """The participant's appointments the caller may see, latest first."""
    return service.list_appointments(gate, participant_id, paging, include_cancelled)


@router.post(
    "",
    response_model=AppointmentRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Forbidden, Conflict, Unprocessable),
)
def create_appointment(
    gate: RecordsWrite,
    participant_id: uuid.UUID,
    data: AppointmentCreate,
    request: Request,
    response: Response,
) -> AppointmentRead | JSONResponse:
    """Book an appointment; 409 naming the clash when it overlaps one the caller may see."""
    try:
        body = service.create_appointment(gate, participant_id, data)
    except service.AppointmentClash as exc:
        return _clash(exc, request)
    response.headers["ETag"] = etag_for("appointment", body.version)
    return body


@router.patch(
    "/{appointment_id}",
    response_model=AppointmentRead,
    responses=error_responses(Forbidden, Conflict, PreconditionFailed, Unprocessable),
)
def update_appointment(
    gate: RecordsWrite,
    participant_id: uuid.UUID,
    appointment_id: uuid.UUID,
    data: AppointmentUpdate,
    request: Request,
    response: Response,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> AppointmentRead | JSONResponse:
    """Move, cancel, mark reminded, record attendance or the follow-up of a missed one."""
    try:
        body = service.update_appointment(gate, participant_id, appointment_id, data, if_match)
    except service.AppointmentClash as exc:
        return _clash(exc, request)
    response.headers["ETag"] = etag_for("appointment", body.version)
    return body


@worklists.get(
    "/reminders",
    response_model=RecordPage[AppointmentRead],
    responses=error_responses(Forbidden),
)
def reminders_due(gate: RecordsRead, paging: Paging) -> RecordPage[AppointmentRead]:
    """Appointments of the caller's organisation in the next 48 hours, not yet reminded."""
    return service.reminders_due(gate, paging)


@worklists.get(
    "/missed",
    response_model=RecordPage[AppointmentRead],
    responses=error_responses(Forbidden),
)
def missed_appointments(gate: RecordsRead, paging: Paging) -> RecordPage[AppointmentRead]:
    """Did-not-attend appointments of the caller's organisation without a follow-up."""
    return service.missed_without_follow_up(gate, paging)
