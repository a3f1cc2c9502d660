"""The person's restrictions, objections decided by governance leads, restricted records."""

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app.auth.guards import AUTH_ERRORS
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, error_responses
from app.models.governance import (
    ObjectionDecision,
    RestrictedRecordRead,
    RestrictedRecordWrite,
    RestrictionCreate,
    RestrictionLift,
    RestrictionRead,
)
from app.services import restricted_records, restrictions, subject_access
from app.sharing.deps import (
    AdminGate,
    AuditRead,
    ConsentsRead,
    ConsentsWrite,
    GovernanceDecide,
)

router = APIRouter(prefix="/api/v1", tags=["governance"], responses=AUTH_ERRORS)


@router.get(
    "/participants/{participant_id}/restrictions",
    response_model=list[RestrictionRead],
    responses=error_responses(NotFound),
)
def list_restrictions(gate: ConsentsRead, participant_id: uuid.UUID) -> list[RestrictionRead]:
    """The person's restrictions on sharing, with each objection's state (history kept)."""
    participant = gate.participant(participant_id, resource="restriction")
    return [
        RestrictionRead.model_validate(r) for r in restrictions.list_restrictions(gate, participant)
    ]


@router.post(
    "/participants/{participant_id}/restrictions",
    response_model=RestrictionRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotFound, Forbidden, Unprocessable),
)
def record_restriction(
    gate: ConsentsWrite, participant_id: uuid.UUID, data: RestrictionCreate
) -> RestrictionRead:
    """Record the person's restriction: it applies from the very next request."""
    participant = gate.participant(participant_id, action="create", resource="restriction")
    return RestrictionRead.model_validate(restrictions.record_restriction(gate, participant, data))


@router.post(
    "/participants/{participant_id}/restrictions/{restriction_id}/lift",
    response_model=RestrictionRead,
    responses=error_responses(NotFound, Forbidden, Conflict),
)
def lift_restriction(
    gate: ConsentsWrite,
    participant_id: uuid.UUID,
    restriction_id: uuid.UUID,
    data: RestrictionLift,
) -> RestrictionRead:
    """Lift a restriction (kept in the history); sharing resumes on the next request."""
    participant = gate.participant(participant_id, action="lift", resource="restriction")
    return RestrictionRead.model_validate(
        restrictions.lift_restriction(gate, participant, restriction_id, data)
    )


@router.post(
    "/objections/{objection_id}/decide",
    response_model=RestrictionRead,
    responses=error_responses(NotFound, Forbidden, Conflict),
)
def decide_objection(
    gate: GovernanceDecide, objection_id: uuid.UUID, data: ObjectionDecision
) -> RestrictionRead:
    """Uphold or not uphold a person's objection, with a written reason they will see."""
    return RestrictionRead.model_validate(restrictions.decide_objection(gate, objection_id, data))


@router.put(
    "/participants/{participant_id}/restricted-record",
    response_model=RestrictedRecordRead,
    responses=error_responses(NotFound, Forbidden, Unprocessable),
)
def set_restricted_record(
    gate: AdminGate, participant_id: uuid.UUID, data: RestrictedRecordWrite
) -> RestrictedRecordRead:
    """Make the record exist only for the named organisations (lead organisation's admin)."""
    participant = gate.participant(
        participant_id, action="restrict_record", resource="restricted_record"
    )
    return RestrictedRecordRead.model_validate(
        restricted_records.set_restricted_record(gate, participant, data)
    )


class SubjectAccess(BaseModel):
    """Everything held about the person (schema: docs/governance.md, "Subject access")."""

    model_config = ConfigDict(populate_by_name=True)
    schema_version: str = Field(description="The version of this export's layout.")
    participant_id: uuid.UUID
    generated_at: Any = Field(description="When the export was made.")
    from_: date | None = Field(
        alias="from", description="First day covered (inclusive); null for all time."
    )
    to: date | None = Field(description="Last day covered (inclusive); null for up to now.")
    bounded: bool = Field(description="True for the person's own token (self-service parts)")
    third_party_rule: str = Field(
        description="How information about other people (staff) is left out."
    )
    record: dict[str, Any] = Field(
        description="The person's record: identity, custody and the other categories."
    )
    sections: dict[str, list[dict[str, Any]]] = Field(
        description="Lists of records (consents, notes, referrals, disclosures ...), by section."
    )


@router.get(
    "/participants/{participant_id}/subject-access",
    response_model=SubjectAccess,
    response_model_by_alias=True,
    responses=error_responses(NotFound, Forbidden, Unprocessable),
)
def read_subject_access(
    gate: AuditRead,
    participant_id: uuid.UUID,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> SubjectAccess:
    """Everything held about the person, across organisations, as one audited document."""
    if start and end and end < start:
        raise Unprocessable("'to' must be on or after 'from'.")
    participant = gate.participant(participant_id, resource="subject_access")
    return SubjectAccess.model_validate(
        subject_access.subject_access(gate, participant, start, end)
    )
