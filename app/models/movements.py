"""Prison movements received from partner systems (received, transferred, released, recalled)."""

import re
import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, enum_type, new_id, utcnow

_PRISON_NUMBER = re.compile(r"^[A-Z][0-9]{4}[A-Z]{2}$")


class MovementKind(StrEnum):
    """A custody movement: `received`, `transferred`, `released` or `recalled`."""

    received = "received"
    transferred = "transferred"
    released = "released"
    recalled = "recalled"


class MovementCreate(InputModel):
    """Body of POST /api/v1/movements."""

    event_id: str = Field(
        min_length=1, max_length=100, description="The sender's id: repeats are no-ops."
    )
    kind: MovementKind
    prison_number: str = Field(description="The person's prison number, e.g. A1234BC.")
    occurred_at: datetime
    establishment: str | None = Field(default=None, min_length=1, max_length=120)

    @field_validator("prison_number")
    @classmethod
    def _prison_number(cls, value: str) -> str:
        if not _PRISON_NUMBER.match(value):
            raise ValueError("a prison number looks like A1234BC")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at needs a time zone")
        return value


class Movement(SQLModel, table=True):
    __tablename__ = "movements"
    __table_args__ = (UniqueConstraint("organisation_id", "event_id"),)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id")
    event_id: str = Field(max_length=100)
    kind: MovementKind = Field(sa_type=enum_type(MovementKind))
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    establishment: str | None = Field(default=None, max_length=120)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    received_by: str = Field(max_length=120)


class MovementRead(SQLModel):
    """A custody movement as recorded (a repeat of an event id is a no-op)."""

    id: uuid.UUID
    event_id: str = Field(description="The sender's id for the movement.")
    kind: MovementKind
    participant_id: uuid.UUID
    occurred_at: datetime
    received_at: datetime = Field(description="When Throughcare received it.")
    duplicate: bool = Field(
        default=False, description="True when this event id was already received (nothing changed)."
    )
