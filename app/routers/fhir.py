"""FHIR export of one participant's record, as the caller may see it."""

import uuid
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.auth.guards import AUTH_ERRORS
from app.auth.scopes import Scope
from app.core.errors import NotFound, error_responses
from app.services.fhir import export_bundle
from app.sharing.deps import gate_with
from app.sharing.gate import SharingGate

FhirRead = Annotated[SharingGate, gate_with(Scope.participants_read, Scope.records_read)]
router = APIRouter(prefix="/api/v1/participants", tags=["fhir"], responses=AUTH_ERRORS)


@router.get(
    "/{participant_id}/fhir",
    response_class=JSONResponse,
    responses={
        200: {"content": {"application/fhir+json": {}}, "description": "A FHIR Bundle"},
        **error_responses(NotFound),
    },
)
def export_fhir(gate: FhirRead, participant_id: uuid.UUID) -> JSONResponse:
    """The participant's record as a FHIR Bundle: exactly what the caller may see."""
    bundle = export_bundle(gate, participant_id)
    return JSONResponse(bundle, media_type="application/fhir+json")
