"""Prison movement intake from prison and probation partner systems."""

from typing import Annotated

from fastapi import APIRouter, Response, status

from app.auth.guards import AUTH_ERRORS
from app.auth.scopes import Scope
from app.core.errors import Conflict, Forbidden, Unprocessable, error_responses
from app.models.movements import MovementCreate, MovementRead
from app.services.movements import record_movement
from app.sharing.deps import gate_with
from app.sharing.gate import SharingGate

MovementsWrite = Annotated[SharingGate, gate_with(Scope.movements_write)]
router = APIRouter(prefix="/api/v1/movements", tags=["movements"], responses=AUTH_ERRORS)


@router.post(
    "",
    response_model=MovementRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "A repeat of an event id already received: nothing changed."},
        **error_responses(Forbidden, Unprocessable, Conflict),
    },
)
def record_prison_movement(
    gate: MovementsWrite, body: MovementCreate, response: Response
) -> MovementRead:
    """Apply a received / transferred / released / recalled movement (idempotent by event id)."""
    movement, new = record_movement(gate, body)
    if not new:
        response.status_code = status.HTTP_200_OK
    return movement
