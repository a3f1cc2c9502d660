"""Interagency referrals: the table and the one table of allowed transitions."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, enum_type, new_id, utcnow


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
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    from_org_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    to_org_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    service_id: uuid.UUID | None = Field(default=None, index=True)
    reason: str = Field(max_length=4000)
    urgency: Urgency = Field(sa_type=enum_type(Urgency))
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    requested_by_date: date | None = None
    status: ReferralStatus = Field(sa_type=enum_type(ReferralStatus), index=True)
    decline_reason: str | None = Field(default=None, max_length=4000)
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
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
