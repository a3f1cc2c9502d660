"""Risk alerts and screenings of a participant (read through the sharing gate)."""

import uuid

from fastapi import APIRouter, status

from app.auth.guards import AUTH_ERRORS
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, error_responses
from app.core.pagination import Paging
from app.models.listing import RecordPage
from app.models.risk import AlertStatus, RiskAlertClose, RiskAlertCreate, RiskAlertRead
from app.models.screening import Instrument, ScreeningCreate, ScreeningRead, ScreeningTrend
from app.services import risk, screenings
from app.sharing.deps import RecordsRead, RecordsWrite

router = APIRouter(
    prefix="/api/v1/participants/{participant_id}",
    tags=["risk and screenings"],
    responses={**AUTH_ERRORS, **error_responses(NotFound)},
)


@router.get("/alerts", response_model=RecordPage[RiskAlertRead])
def list_alerts(
    gate: RecordsRead,
    participant_id: uuid.UUID,
    paging: Paging,
    status: AlertStatus | None = None,
) -> RecordPage[RiskAlertRead]:
    """Risk alerts the caller may see (filter `status=active` for the live register)."""
    return risk.list_alerts(gate, participant_id, paging, status)


@router.post(
    "/alerts",
    response_model=RiskAlertRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Forbidden, Unprocessable),
)
def raise_alert(
    gate: RecordsWrite, participant_id: uuid.UUID, data: RiskAlertCreate
) -> RiskAlertRead:
    """Raise a risk alert."""
    return risk.raise_alert(gate, participant_id, data)


@router.post(
    "/alerts/{alert_id}/close",
    response_model=RiskAlertRead,
    responses=error_responses(Forbidden, Conflict, Unprocessable),
)
def close_alert(
    gate: RecordsWrite, participant_id: uuid.UUID, alert_id: uuid.UUID, data: RiskAlertClose
) -> RiskAlertRead:
    """Close an active risk alert, with the reason."""
    return risk.close_alert(gate, participant_id, alert_id, data)


@router.get("/screenings", response_model=RecordPage[ScreeningRead])
def list_screenings(
    gate: RecordsRead,
    participant_id: uuid.UUID,
    paging: Paging,
    instrument: Instrument | None = None,
) -> RecordPage[ScreeningRead]:
    """Screenings the caller may see, newest first."""
    return screenings.list_screenings(gate, participant_id, paging, instrument)


@router.post(
    "/screenings",
    response_model=ScreeningRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Forbidden, Unprocessable),
)
def record_screening(
    gate: RecordsWrite, participant_id: uuid.UUID, data: ScreeningCreate
) -> ScreeningRead:
    """Record a screening from its item responses; the server scores it."""
    return screenings.record_screening(gate, participant_id, data)


@router.get("/screenings/trend", response_model=ScreeningTrend)
def screening_trend(
    gate: RecordsRead, participant_id: uuid.UUID, instrument: Instrument
) -> ScreeningTrend:
    """The series of totals for one instrument, oldest first."""
    return screenings.trend(gate, participant_id, instrument)
