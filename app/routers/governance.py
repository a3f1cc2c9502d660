"""The person's restrictions, objections decided by governance leads, restricted records."""

import uuid
from datetime import date, datetime
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


Rows = list[dict[str, Any]]


def _section(what: str, own: str = "") -> Any:
    return Field(default=None, description=f"{what}{own}")


_NOT_OWN = " Not in the person's own (bounded) copy."
_SELF_SERVICE = " In the person's own copy only rows of self-service categories."


class SubjectAccessSections(BaseModel):
    """Each section is every row of one table about the person, across organisations, as
    stored, less the fields that name staff (`third_party_rule`). A section the document
    leaves out (the bounded copy) is absent."""

    account: Rows | None = _section("The person's own login account (no credentials).")
    care_team: Rows | None = _section("Care-team memberships (organisation and role).")
    plans: Rows | None = _section("The shared action plan.")
    plan_versions: Rows | None = _section("Every version of the plan, with its snapshot.")
    goals: Rows | None = _section("Goals of the plan.")
    actions: Rows | None = _section("Steps of the plan.")
    reviews: Rows | None = _section("Reviews of the plan.")
    referrals: Rows | None = _section("Referrals about the person, drafts included.")
    referral_history: Rows | None = _section("Every status change of the referrals listed.")
    referral_milestones: Rows | None = _section("Milestones recorded on those referrals.")
    appointments: Rows | None = _section("Appointments.")
    case_notes: Rows | None = _section("Case notes (current text).", _SELF_SERVICE)
    case_note_versions: Rows | None = _section(
        "Every version of the case notes listed, with the reason for each edit.", _SELF_SERVICE
    )
    documents: Rows | None = _section(
        "Documents attached to notes: metadata and sha256, never the content.", _SELF_SERVICE
    )
    consents: Rows | None = _section("Consents, withdrawn ones included.")
    restrictions: Rows | None = _section("The person's restrictions and their objections.")
    movements: Rows | None = _section("Custody movements received.")
    ending: Rows | None = _section("The ending-of-intervention checklist.")
    alerts: Rows | None = _section("Risk alerts.", _NOT_OWN)
    screenings: Rows | None = _section("Screenings and their scores.", _NOT_OWN)
    break_glass: Rows | None = _section("Emergency (break-glass) access and reviews.", _NOT_OWN)
    notices: Rows | None = _section("Notices raised to organisations about them.", _NOT_OWN)
    engagement_notices: Rows | None = _section("The engagement-notice ledger.", _NOT_OWN)
    restricted_record: Rows | None = _section("The restricted-record flag and reason.", _NOT_OWN)
    restricted_record_orgs: Rows | None = _section(
        "Organisations named on the restricted record.", _NOT_OWN
    )
    disclosure_log: Rows | None = _section(
        "Every allowed access to the record: time, organisation, role, action, resource, "
        "categories, basis, purpose."
    )


class SubjectAccess(BaseModel):
    """Everything held about the person (schema: docs/governance.md, "Subject access")."""

    model_config = ConfigDict(populate_by_name=True)
    schema_version: str = Field(description="Version of this document's layout")
    participant_id: uuid.UUID = Field(description="The person")
    generated_at: datetime = Field(description="When the document was made")
    from_: date | None = Field(alias="from", description="Start of the date range asked")
    to: date | None = Field(description="End of the date range asked")
    bounded: bool = Field(description="True for the person's own token (self-service parts)")
    third_party_rule: str = Field(description="How staff are (not) named in the document")
    record: dict[str, Any] = Field(description="The participant row, as stored")
    sections: SubjectAccessSections = Field(description="The records about the person")


@router.get(
    "/participants/{participant_id}/subject-access",
    response_model=SubjectAccess,
    response_model_by_alias=True,
    response_model_exclude_unset=True,
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
