"""Notices: messages to an organisation (break-glass alerts, referral outcomes, ...)."""

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, new_id, utcnow


class Notice(SQLModel, table=True):
    __tablename__ = "notices"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    kind: str = Field(max_length=40)
    participant_id: uuid.UUID | None = Field(default=None, foreign_key="participants.id")
    subject_id: str | None = Field(default=None, max_length=80)
    message: str = Field(max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    acknowledged_by: str | None = Field(default=None, max_length=120)


class NoticeRead(SQLModel):
    id: uuid.UUID
    organisation_id: uuid.UUID
    kind: str
    participant_id: uuid.UUID | None
    subject_id: str | None
    message: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
