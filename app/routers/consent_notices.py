"""Who was told that a consent was withdrawn, and who has acknowledged."""

import uuid

from fastapi import APIRouter

from app.auth.guards import AUTH_ERRORS
from app.core.errors import Forbidden, NotFound, error_responses
from app.services.consent_notices import ConsentNoticeRead, consent_notices
from app.sharing.deps import ConsentsRead

router = APIRouter(prefix="/api/v1/participants", tags=["consent"], responses=AUTH_ERRORS)


@router.get(
    "/{participant_id}/consents/{consent_id}/notices",
    response_model=list[ConsentNoticeRead],
    responses=error_responses(Forbidden, NotFound),
)
def list_consent_notices(
    gate: ConsentsRead, participant_id: uuid.UUID, consent_id: uuid.UUID
) -> list[ConsentNoticeRead]:
    """The organisations told of a consent's withdrawal, and whether each acknowledged."""
    participant = gate.participant(participant_id, resource="consent_notice")
    return consent_notices(gate, participant, consent_id)
