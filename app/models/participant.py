"""The participant (the person) and their care team."""

import re
import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import field_validator
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, enum_type, new_id, utcnow
from app.sharing.categories import Category


class Phase(StrEnum):
    in_prison = "in_prison"
    pre_release = "pre_release"
    community = "community"
    ended = "ended"


# The one table of allowed phase transitions.
PHASE_TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.in_prison: frozenset({Phase.pre_release, Phase.community, Phase.ended}),
    Phase.pre_release: frozenset({Phase.in_prison, Phase.community, Phase.ended}),
    Phase.community: frozenset({Phase.in_prison, Phase.ended}),
    Phase.ended: frozenset(),
}

_PRISON_NUMBER = re.compile(r"^[A-Z][0-9]{4}[A-Z]{2}$")
_CRN = re.compile(r"^[A-Z][0-9]{6}$")


def valid_nhs_number(value: str) -> bool:
    """True when `value` is 10 digits with a correct modulus-11 check digit."""
    if not re.fullmatch(r"[0-9]{10}", value):
        return False
    total = sum(int(d) * (10 - i) for i, d in enumerate(value[:9]))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(value[9])


class _IdentifierChecks(SQLModel):
    @field_validator(
        "nhs_number", "prison_number", "probation_crn", mode="before", check_fields=False
    )
    @classmethod
    def _normalise(cls, value: object) -> object:
        # People write NHS numbers in groups ("943 476 5919") and prison numbers in any case.
        if isinstance(value, str):
            return value.replace(" ", "").upper()
        return value

    @field_validator("nhs_number", check_fields=False)
    @classmethod
    def _nhs(cls, value: str | None) -> str | None:
        if value is not None and not valid_nhs_number(value):
            raise ValueError("not a valid NHS number (10 digits, modulus-11 check digit)")
        return value

    @field_validator("prison_number", check_fields=False)
    @classmethod
    def _prison(cls, value: str | None) -> str | None:
        if value is not None and not _PRISON_NUMBER.match(value):
            raise ValueError("not a valid prison number (format A1234BC)")
        return value

    @field_validator("probation_crn", check_fields=False)
    @classmethod
    def _crn(cls, value: str | None) -> str | None:
        if value is not None and not _CRN.match(value):
            raise ValueError("not a valid probation CRN (format X123456)")
        return value


class ParticipantFields(_IdentifierChecks):
    """Every personal field; each belongs to one category (app/sharing/fields.py)."""

    given_name: str | None = Field(default=None, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    preferred_name: str | None = Field(default=None, max_length=100)
    preferred_address: str | None = Field(default=None, max_length=60)
    date_of_birth: date | None = None
    nhs_number: str | None = Field(default=None, max_length=10)
    prison_number: str | None = Field(default=None, max_length=7)
    probation_crn: str | None = Field(default=None, max_length=7)
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    gender: str | None = Field(default=None, max_length=60)
    ethnicity: str | None = Field(default=None, max_length=100)
    religion: str | None = Field(default=None, max_length=100)
    disability: str | None = Field(default=None, max_length=300)
    establishment: str | None = Field(default=None, max_length=120)
    expected_release_date: date | None = None
    actual_release_date: date | None = None
    licence_end_date: date | None = None
    intervention_start: date | None = None
    intervention_end: date | None = None


class ParticipantCreate(ParticipantFields, InputModel):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)
    phase: Phase = Phase.in_prison

    @field_validator("date_of_birth")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        if value is not None and value > date.today():
            raise ValueError("date of birth is in the future")
        return value


class ParticipantUpdate(ParticipantFields, InputModel):
    phase: Phase | None = None
    lead_practitioner_id: uuid.UUID | None = None


class Participant(ParticipantFields, table=True):
    __tablename__ = "participants"
    # Caseload lists start from the organisation (app/sharing/visibility.caseload_page).
    __table_args__ = (
        Index("ix_participants_source_org_id_id", "source_org_id", "id"),
        Index("ix_participants_source_org_release", "source_org_id", "expected_release_date", "id"),
    )
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    nhs_number: str | None = Field(default=None, max_length=10, unique=True)
    prison_number: str | None = Field(default=None, max_length=7, unique=True)
    probation_crn: str | None = Field(default=None, max_length=7, unique=True)
    phase: Phase = Field(default=Phase.in_prison, sa_type=enum_type(Phase))
    lead_practitioner_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Withheld(SQLModel):
    """A category left out of a response, and why."""

    category: Category
    reason: str


class ParticipantRead(ParticipantFields):
    """A participant as the caller may see them: withheld fields are absent, and
    `withheld` says which categories were left out and why."""

    id: uuid.UUID
    version: int | None = Field(
        default=None,
        description="Present only when nothing is withheld (it moves with every field).",
    )
    source_org_id: uuid.UUID
    created_at: datetime
    updated_at: datetime | None = Field(
        default=None,
        description="Present only when nothing is withheld (it moves with every field).",
    )
    phase: Phase | None = None
    lead_practitioner_id: uuid.UUID | None = None
    withheld: list[Withheld] = []


class CareRole(StrEnum):
    lead = "lead"
    contributor = "contributor"
    peer = "peer"


class CareTeamMemberCreate(InputModel):
    organisation_id: uuid.UUID
    user_id: uuid.UUID | None = None
    role: CareRole = CareRole.contributor


class CareTeamMember(SQLModel, table=True):
    __tablename__ = "care_team_members"
    # An organisation's memberships in participant order, covering the in-force test.
    __table_args__ = (
        Index(
            "ix_care_team_members_org_participant",
            "organisation_id",
            "participant_id",
            "since",
            "until",
        ),
    )
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    role: CareRole = Field(sa_type=enum_type(CareRole))
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    since: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    added_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CareTeamMemberRead(SQLModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation_name: str | None = None
    user_id: uuid.UUID | None
    role: CareRole
    since: datetime
    until: datetime | None
    active: bool
