"""Care team, consent, the access explanation and the disclosure log of a participant."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from app.auth.guards import AUTH_ERRORS
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable, error_responses
from app.core.pagination import Page, Paging
from app.models.participant import CareTeamMemberCreate, CareTeamMemberRead
from app.models.sharing import ConsentCreate, ConsentRead, ConsentWithdraw
from app.services import care_team, consents, disclosures
from app.services.access import explain_access
from app.sharing.categories import Category
from app.sharing.deps import (
    AuditRead,
    ConsentsRead,
    ConsentsWrite,
    ParticipantsRead,
    ParticipantsWrite,
)

router = APIRouter(prefix="/api/v1/participants", tags=["sharing"], responses=AUTH_ERRORS)


class AccessDecision(BaseModel):
    category: Category
    allowed: bool
    basis: str | None = None
    reason: str | None = None
    protocol_id: uuid.UUID | None = None
    protocol_version: int | None = None
    consent_id: uuid.UUID | None = None
    grant_id: uuid.UUID | None = None
    trace: list[str]


class AccessExplanation(BaseModel):
    participant_id: uuid.UUID
    organisation_id: uuid.UUID
    purpose: str
    source_org_id: uuid.UUID
    decisions: list[AccessDecision]


class DisclosureEntry(BaseModel):
    seq: int
    occurred_at: Any
    organisation_id: uuid.UUID | None
    organisation_name: str | None
    actor_role: str
    action: str
    resource: str
    categories: list[str]
    basis: list[dict[str, Any]]
    purpose: str
    text: str


@router.get(
    "/{participant_id}/care-team",
    response_model=list[CareTeamMemberRead],
    responses=error_responses(NotFound),
)
def list_care_team(gate: ParticipantsRead, participant_id: uuid.UUID) -> list[CareTeamMemberRead]:
    """The care team (memberships the caller may see, ended ones included)."""
    participant = gate.participant(participant_id, resource="care_team_member")
    return [
        CareTeamMemberRead.model_validate(m) for m in care_team.list_care_team(gate, participant)
    ]


@router.post(
    "/{participant_id}/care-team",
    response_model=CareTeamMemberRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotFound, Forbidden, Conflict, Unprocessable),
)
def add_care_team_member(
    gate: ParticipantsWrite, participant_id: uuid.UUID, data: CareTeamMemberCreate
) -> CareTeamMemberRead:
    """Add an organisation to the care team (lead organisation only)."""
    participant = gate.participant(participant_id, action="create", resource="care_team_member")
    return CareTeamMemberRead.model_validate(care_team.add_member(gate, participant, data))


@router.delete(
    "/{participant_id}/care-team/{member_id}",
    response_model=CareTeamMemberRead,
    responses=error_responses(NotFound, Forbidden, Conflict),
)
def end_care_team_membership(
    gate: ParticipantsWrite, participant_id: uuid.UUID, member_id: uuid.UUID
) -> CareTeamMemberRead:
    """End a care-team membership (kept in the history)."""
    participant = gate.participant(participant_id, action="end", resource="care_team_member")
    return CareTeamMemberRead.model_validate(care_team.end_member(gate, participant, member_id))


@router.get(
    "/{participant_id}/consents",
    response_model=list[ConsentRead],
    responses=error_responses(NotFound),
)
def list_consents(gate: ConsentsRead, participant_id: uuid.UUID) -> list[ConsentRead]:
    """Every consent the participant has given, with its status (history kept)."""
    participant = gate.participant(participant_id, resource="consent")
    return [ConsentRead.model_validate(c) for c in consents.list_consents(gate, participant)]


@router.post(
    "/{participant_id}/consents",
    response_model=ConsentRead,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(NotFound, Forbidden, Unprocessable),
)
def record_consent(
    gate: ConsentsWrite, participant_id: uuid.UUID, data: ConsentCreate
) -> ConsentRead:
    """Record consent the participant gave (categories, recipients, purposes, method)."""
    participant = gate.participant(participant_id, action="create", resource="consent")
    return ConsentRead.model_validate(consents.record_consent(gate, participant, data))


@router.post(
    "/{participant_id}/consents/{consent_id}/withdraw",
    response_model=ConsentRead,
    responses=error_responses(NotFound, Forbidden, Conflict),
)
def withdraw_consent(
    gate: ConsentsWrite, participant_id: uuid.UUID, consent_id: uuid.UUID, data: ConsentWithdraw
) -> ConsentRead:
    """Withdraw a consent; it stops applying from the very next request."""
    participant = gate.participant(participant_id, action="withdraw", resource="consent")
    return ConsentRead.model_validate(
        consents.withdraw_consent(gate, participant, consent_id, data)
    )


@router.get(
    "/{participant_id}/access",
    response_model=AccessExplanation,
    responses=error_responses(NotFound),
)
def explain_participant_access(
    gate: ParticipantsRead,
    participant_id: uuid.UUID,
    category: Annotated[
        list[Category] | None, Query(description="Repeatable; all if absent")
    ] = None,
    source_org_id: Annotated[
        uuid.UUID | None, Query(description="Ask about records of this organisation")
    ] = None,
) -> AccessExplanation:
    """Why the caller can or cannot see each category: the rules, protocol and consent."""
    participant = gate.participant(participant_id, resource="access_explanation")
    return AccessExplanation.model_validate(
        explain_access(gate, participant, category or [], source_org_id)
    )


@router.get(
    "/{participant_id}/disclosures",
    response_model=Page[DisclosureEntry],
    responses=error_responses(NotFound, Forbidden),
)
def read_disclosures(
    gate: AuditRead, participant_id: uuid.UUID, paging: Paging
) -> Page[DisclosureEntry]:
    """Who has seen the participant's information, under what basis, newest first."""
    participant = gate.participant(participant_id, resource="disclosure_log")
    entries, cursor = disclosures.disclosure_log(gate, participant, paging)
    return Page(items=[DisclosureEntry.model_validate(e) for e in entries], next_cursor=cursor)
