"""Engagement after release: has the person reached the services they were referred to?

Computed from the record when asked (never stored); only the notices it raised are kept,
with a ledger row each so a scan run twice (or concurrently) never raises one twice.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, new_id, utcnow
from app.models.participant import Withheld


class EngagementState(StrEnum):
    """How engagement after release is going: `engaged`, `first_appointment_missed`,
    `no_contact_yet`, `not_yet_due`, `unknown` (evidence withheld from you) or `not_released`.
    """

    engaged = "engaged"  # contact since release: an attended appointment or a contact note
    first_appointment_missed = "first_appointment_missed"  # and no contact since
    no_contact_yet = "no_contact_yet"  # past the first notice day, nothing booked ahead
    not_yet_due = "not_yet_due"  # no contact yet, but it is early or a first appointment is ahead
    unknown = "unknown"  # the evidence is withheld from the caller
    not_released = "not_released"


class ServiceEngagement(SQLModel):
    """One community organisation the person should be in touch with since release."""

    organisation_id: uuid.UUID
    organisation_name: str | None = None
    why: list[str] = Field(
        description="Why this organisation should be in touch: `referral` (an accepted referral) "
        "and/or `care_team`."
    )
    state: EngagementState = Field(description="How engagement with this organisation is going.")
    first_appointment_id: uuid.UUID | None = Field(
        default=None, description="The first appointment with it after release."
    )
    first_appointment_at: datetime | None = Field(
        default=None, description="When that first appointment is or was."
    )
    evidence_ids: list[str] = []
    note: str | None = None


class Engagement(SQLModel):
    """How a released participant's engagement with community services is going."""

    participant_id: uuid.UUID
    state: EngagementState = Field(description="The overall state, over all the services.")
    release_date: date | None = None
    days_since_release: int | None = Field(
        default=None, description="Days since release; null before release."
    )
    services: list[ServiceEngagement] = Field(
        default_factory=list,
        description="Each community organisation the person should be in touch with.",
    )
    note: str | None = None
    withheld: list[Withheld] = []


class EngagementSummary(SQLModel):
    """One row of the caseload: a released participant and how engagement is going."""

    participant_id: uuid.UUID
    state: EngagementState = Field(description="The overall engagement state.")
    release_date: date
    days_since_release: int = Field(description="Days since release.")
    services: dict[str, int] = Field(description="How many services are in each engagement state.")


class EngagementNotice(SQLModel, table=True):
    """The ledger of engagement notices raised: one per participant, service and trigger."""

    __tablename__ = "engagement_notices"
    __table_args__ = (
        UniqueConstraint("participant_id", "service_org_id", "trigger", "release_date"),
    )
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    service_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    trigger: str = Field(max_length=40)  # "first_appointment_missed" or "no_contact_day_<N>"
    release_date: date
    notice_id: uuid.UUID = Field(foreign_key="notices.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
