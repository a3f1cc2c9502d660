"""Appointments: who the participant is seeing, when and where, and whether they went."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, enum_type, new_id, utcnow


class AppointmentKind(StrEnum):
    gate_meeting = "gate_meeting"
    one_to_one = "one_to_one"
    assessment = "assessment"
    clinic = "clinic"
    supervision = "supervision"
    group_session = "group_session"
    peer_meeting = "peer_meeting"
    housing = "housing"
    other = "other"


class Attendance(StrEnum):
    attended = "attended"
    did_not_attend = "did_not_attend"
    cancelled = "cancelled"


class _Times(SQLModel):
    @model_validator(mode="after")
    def _ordered(self) -> "_Times":
        starts: datetime | None = getattr(self, "starts_at", None)
        ends: datetime | None = getattr(self, "ends_at", None)
        for value in (starts, ends):
            if value is not None and value.tzinfo is None:
                raise ValueError("times need a timezone (UTC ISO 8601)")
        if starts is not None and ends is not None and ends <= starts:
            raise ValueError("ends_at is not after starts_at")
        return self


class AppointmentFields(SQLModel):
    kind: AppointmentKind = Field(sa_type=enum_type(AppointmentKind))
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    place: str | None = Field(default=None, max_length=300)
    with_org_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisations.id", description="Who the meeting is with."
    )
    with_whom: str | None = Field(default=None, max_length=120)
    notes: str | None = Field(default=None, max_length=2000)


class AppointmentCreate(AppointmentFields, _Times, InputModel):
    """Body of POST …/appointments."""


class AppointmentUpdate(_Times, InputModel):
    kind: AppointmentKind | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str | None = Field(default=None, max_length=300)
    with_whom: str | None = Field(default=None, max_length=120)
    notes: str | None = Field(default=None, max_length=2000)
    attendance: Attendance | None = None
    cancel_reason: str | None = Field(default=None, max_length=500)
    reminder_sent: bool | None = Field(default=None, description="Mark the reminder sent.")
    follow_up_note: str | None = Field(
        default=None, max_length=2000, description="Record the follow-up of a missed one."
    )


class Appointment(AppointmentFields, table=True):
    __tablename__ = "appointments"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    attendance: Attendance | None = Field(default=None, sa_type=enum_type(Attendance))
    cancel_reason: str | None = Field(default=None, max_length=500)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    followed_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    follow_up_note: str | None = Field(default=None, max_length=2000)
    created_by: str = Field(max_length=120)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AppointmentRead(AppointmentFields):
    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    attendance: Attendance | None
    cancel_reason: str | None
    reminded_at: datetime | None
    followed_up_at: datetime | None
    follow_up_note: str | None
    version: int
    created_at: datetime
    updated_at: datetime
