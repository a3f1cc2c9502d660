"""Interagency referrals: the table and the one table of allowed transitions."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.models.base import (
    ENUM_LIST_MAX,
    InputModel,
    UTCDateTime,
    enum_type,
    new_id,
    utcnow,
)
from app.models.participant import Withheld
from app.models.referral_milestones import MilestoneRead
from app.sharing.categories import Category


class ReferralStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    accepted = "accepted"
    declined = "declined"
    in_progress = "in_progress"
    completed = "completed"
    withdrawn = "withdrawn"


class Urgency(StrEnum):
    routine = "routine"
    soon = "soon"
    urgent = "urgent"


class ReasonCode(StrEnum):
    """Why a referral was declined or withdrawn, coded so that it can be counted.

    Decline (the recipient): `not_eligible` (outside the service's criteria),
    `no_capacity` (no capacity now, or a waiting list too long to help),
    `declined_by_person` (the person did not want the service), `risk_cannot_be_managed`
    (the service cannot manage the risk safely), `duplicate` (already referred or known),
    `moved_out_of_area`, `other`. Withdraw (the referrer): `declined_by_person`,
    `needs_met_elsewhere`, `moved_out_of_area`, `returned_to_custody` (recalled or
    remanded), `duplicate`, `referred_in_error`, `other`. Rows from before the codes count
    as `other`; the free text stays beside the code.
    """

    not_eligible = "not_eligible"
    no_capacity = "no_capacity"
    declined_by_person = "declined_by_person"
    risk_cannot_be_managed = "risk_cannot_be_managed"
    duplicate = "duplicate"
    moved_out_of_area = "moved_out_of_area"
    needs_met_elsewhere = "needs_met_elsewhere"
    returned_to_custody = "returned_to_custody"
    referred_in_error = "referred_in_error"
    other = "other"


DECLINE_CODES = frozenset(
    {
        ReasonCode.not_eligible,
        ReasonCode.no_capacity,
        ReasonCode.declined_by_person,
        ReasonCode.risk_cannot_be_managed,
        ReasonCode.duplicate,
        ReasonCode.moved_out_of_area,
        ReasonCode.other,
    }
)
WITHDRAW_CODES = frozenset(
    {
        ReasonCode.declined_by_person,
        ReasonCode.needs_met_elsewhere,
        ReasonCode.moved_out_of_area,
        ReasonCode.returned_to_custody,
        ReasonCode.duplicate,
        ReasonCode.referred_in_error,
        ReasonCode.other,
    }
)


# Statuses in which the recipient has a (referral-only) legitimate relationship.
OPEN_FOR_RECIPIENT = frozenset(
    {ReferralStatus.submitted, ReferralStatus.accepted, ReferralStatus.in_progress}
)

REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.draft: frozenset({ReferralStatus.submitted, ReferralStatus.withdrawn}),
    ReferralStatus.submitted: frozenset(
        {ReferralStatus.accepted, ReferralStatus.declined, ReferralStatus.withdrawn}
    ),
    ReferralStatus.accepted: frozenset({ReferralStatus.in_progress, ReferralStatus.withdrawn}),
    ReferralStatus.in_progress: frozenset({ReferralStatus.completed, ReferralStatus.withdrawn}),
    ReferralStatus.declined: frozenset(),
    ReferralStatus.completed: frozenset(),
    ReferralStatus.withdrawn: frozenset(),
}


class Referral(SQLModel, table=True):
    __tablename__ = "referrals"
    # Caseload (relationship by participant) and the inbox/outbox (newest first), each
    # starting from the organisation.
    __table_args__ = (
        Index("ix_referrals_to_org_participant", "to_org_id", "participant_id", "status"),
        Index("ix_referrals_to_org_created", "to_org_id", "created_at", "id"),
        Index("ix_referrals_from_org_created", "from_org_id", "created_at", "id"),
    )
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    from_org_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    to_org_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="services.id", index=True)
    reason: str = Field(max_length=4000)
    urgency: Urgency = Field(sa_type=enum_type(Urgency))
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    requested_by_date: date | None = None
    status: ReferralStatus = Field(sa_type=enum_type(ReferralStatus), index=True)
    decline_reason: str | None = Field(default=None, max_length=4000)
    decline_code: ReasonCode | None = Field(default=None, sa_type=enum_type(ReasonCode))
    withdraw_code: ReasonCode | None = Field(default=None, sa_type=enum_type(ReasonCode))
    withdraw_reason: str | None = Field(default=None, max_length=4000)
    outcome: str | None = Field(default=None, max_length=4000)
    created_by: str = Field(max_length=120)
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReferralTransition(SQLModel, table=True):
    __tablename__ = "referral_transitions"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    referral_id: uuid.UUID = Field(foreign_key="referrals.id", index=True)
    from_status: ReferralStatus | None = Field(default=None, sa_type=enum_type(ReferralStatus))
    to_status: ReferralStatus = Field(sa_type=enum_type(ReferralStatus))
    actor: str = Field(max_length=120)
    actor_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    note: str | None = Field(default=None, max_length=4000)
    reason_code: ReasonCode | None = Field(default=None, sa_type=enum_type(ReasonCode))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReferralAmendment(SQLModel, table=True):
    """One changed field of an amendment to a submitted or accepted referral: the change
    log (what, old and new value, who, when, why). One amendment writes one row per field,
    all with the referral version it made."""

    __tablename__ = "referral_amendments"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    referral_id: uuid.UUID = Field(foreign_key="referrals.id", index=True)
    version: int
    field: str = Field(max_length=40)
    old_value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    new_value: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    actor: str = Field(max_length=120)
    actor_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    reason: str = Field(max_length=1000)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReferralAction(StrEnum):
    submit = "submit"
    accept = "accept"
    decline = "decline"
    start = "start"
    complete = "complete"
    withdraw = "withdraw"


# Each action moves to one status; the table above says from where.
ACTION_TARGETS: dict[ReferralAction, ReferralStatus] = {
    ReferralAction.submit: ReferralStatus.submitted,
    ReferralAction.accept: ReferralStatus.accepted,
    ReferralAction.decline: ReferralStatus.declined,
    ReferralAction.start: ReferralStatus.in_progress,
    ReferralAction.complete: ReferralStatus.completed,
    ReferralAction.withdraw: ReferralStatus.withdrawn,
}

# Who may take each action: the referring or the receiving organisation.
REFERRER_ACTIONS = frozenset({ReferralAction.submit, ReferralAction.withdraw})


class _Categories(SQLModel):
    @field_validator("categories", check_fields=False)
    @classmethod
    def _unique(cls, value: list[Category] | None) -> list[Category] | None:
        return None if value is None else sorted(set(value))


class ReferralCreate(_Categories, InputModel):
    participant_id: uuid.UUID
    to_org_id: uuid.UUID | None = Field(
        default=None, description="The receiving organisation (or give service_id)."
    )
    service_id: uuid.UUID | None = Field(
        default=None, description="A directory service; its provider receives the referral."
    )
    reason: str = Field(min_length=3, max_length=4000)
    urgency: Urgency = Urgency.routine
    categories: list[Category] = Field(min_length=1, max_length=ENUM_LIST_MAX)
    requested_by_date: date | None = None
    submit: bool = Field(default=False, description="Submit at once instead of saving a draft.")

    @model_validator(mode="after")
    def _recipient(self) -> "ReferralCreate":
        if self.to_org_id is None and self.service_id is None:
            raise ValueError("give to_org_id, service_id or both")
        return self


class ReferralUpdate(_Categories, InputModel):
    """Changes to a draft, or an amendment of a submitted, accepted or in-progress referral
    (then `change_reason` is required and each changed field is logged with its old and new
    value; added categories are checked with the sharing decision first)."""

    reason: str | None = Field(default=None, min_length=3, max_length=4000)
    urgency: Urgency | None = None
    categories: list[Category] | None = Field(default=None, min_length=1, max_length=ENUM_LIST_MAX)
    requested_by_date: date | None = None
    change_reason: str | None = Field(
        default=None,
        min_length=3,
        max_length=1000,
        description="Why the referral is amended; required once it has been submitted.",
    )


class ReferralActionBody(InputModel):
    """Optional body of an action: `reason` for decline, `outcome` for complete."""

    note: str | None = Field(default=None, max_length=4000)
    reason: str | None = Field(default=None, min_length=3, max_length=4000)
    reason_code: ReasonCode | None = Field(
        default=None,
        description="Coded reason of a decline or withdrawal (see ReasonCode for which codes "
        "each takes); without one the reason counts as `other`, which needs `reason`.",
    )
    outcome: str | None = Field(default=None, min_length=3, max_length=4000)


class ReferralTransitionRead(SQLModel):
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    actor: str
    actor_org_id: uuid.UUID
    note: str | None
    reason_code: ReasonCode | None = Field(
        default=None, description="The coded reason of a decline or withdrawal."
    )
    at: datetime


class ReferralAmendmentRead(SQLModel):
    """One field changed by an amendment after submission, with who, when and why."""

    version: int = Field(description="The referral version the amendment made.")
    field: str = Field(
        description="The changed field: reason, urgency, requested_by_date or categories."
    )
    old_value: Any = Field(default=None, description="The value before the amendment.")
    new_value: Any = Field(default=None, description="The value after the amendment.")
    actor: str = Field(description="Who amended it.")
    actor_org_id: uuid.UUID = Field(description="The amending (referring) organisation.")
    reason: str = Field(description="Why it was amended.")
    at: datetime = Field(description="When it was amended.")


class ReferralRead(SQLModel):
    """A referral as the caller may see it. A closed referral seen by its recipient alone
    (declined or withdrawn, no other basis) carries only the recipient's own record of the
    exchange: the person's fields are absent and `withheld` says so."""

    id: uuid.UUID
    participant_id: uuid.UUID | None = None
    from_org_id: uuid.UUID
    to_org_id: uuid.UUID
    service_id: uuid.UUID | None = None
    reason: str | None = None
    urgency: Urgency | None = None
    categories: list[Category] | None = None
    requested_by_date: date | None = None
    status: ReferralStatus
    decline_reason: str | None = None
    decline_code: ReasonCode | None = Field(
        default=None, description="Coded reason of a decline (`other` for older free text)."
    )
    withdraw_code: ReasonCode | None = Field(
        default=None, description="Coded reason of a withdrawal (`other` for older rows)."
    )
    withdraw_reason: str | None = Field(
        default=None, description="Free text beside the withdrawal code."
    )
    outcome: str | None = None
    created_by: str | None = None
    submitted_at: datetime | None = None
    overdue: bool = False
    version: int
    created_at: datetime
    updated_at: datetime
    transitions: list[ReferralTransitionRead] = []
    amendments: list[ReferralAmendmentRead] = Field(
        default=[],
        description="The change log of amendments after submission, oldest first.",
    )
    milestones: list[MilestoneRead] = Field(
        default=[],
        description="Milestones the recipient recorded (first contact, attended, ...), "
        "oldest first.",
    )
    withheld: list[Withheld] = []


class ReferralRefusal(SQLModel):
    """Why an attached category may not go to the recipient."""

    category: str
    reason: str
