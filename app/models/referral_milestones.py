"""Interim milestones of an accepted referral, recorded by the recipient for the referrer."""

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, enum_type, new_id, utcnow


class MilestoneKind(StrEnum):
    """A step in the person's contact with the service a referral went to."""

    first_contact_made = "first_contact_made"
    first_appointment_booked = "first_appointment_booked"
    attended = "attended"
    did_not_attend = "did_not_attend"
    disengaged = "disengaged"


class MilestoneCreate(InputModel):
    """Body of POST /referrals/{referral_id}/milestones."""

    kind: MilestoneKind
    occurred_on: date = Field(description="The day it happened.")
    note: str | None = Field(default=None, max_length=2000)


class UpdateRequestCreate(InputModel):
    """Body of POST /referrals/{referral_id}/update-requests."""

    note: str | None = Field(default=None, max_length=600)


class ReferralMilestone(SQLModel, table=True):
    __tablename__ = "referral_milestones"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    referral_id: uuid.UUID = Field(foreign_key="referrals.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    kind: MilestoneKind = Field(sa_type=enum_type(MilestoneKind))
    occurred_on: date
    note: str | None = Field(default=None, max_length=2000)
    recorded_by: str = Field(max_length=120)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MilestoneRead(SQLModel):
    """A milestone the receiving service recorded on a referral."""

    id: uuid.UUID
    referral_id: uuid.UUID = Field(description="The referral the milestone belongs to.")
    source_org_id: uuid.UUID
    kind: MilestoneKind
    occurred_on: date = Field(description="The day it happened.")
    note: str | None
    recorded_by: str
    recorded_at: datetime = Field(description="When it was recorded.")


class UpdateRequestRead(SQLModel):
    """A request to the receiving service for an update on a referral."""

    referral_id: uuid.UUID = Field(description="The referral the update is asked for.")
    notice_id: uuid.UUID = Field(description="The notice sent to the receiving organisation.")
