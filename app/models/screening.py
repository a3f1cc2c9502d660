"""Screenings: standard instruments, scored by the server from the item responses."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, enum_type, new_id, utcnow
from app.models.listing import WithheldCountRead


class Instrument(StrEnum):
    phq9 = "PHQ-9"
    gad7 = "GAD-7"
    core10 = "CORE-10"


# Items and the highest score of one item, per instrument.
INSTRUMENT_ITEMS: dict[Instrument, tuple[int, int]] = {
    Instrument.phq9: (9, 3),
    Instrument.gad7: (7, 3),
    Instrument.core10: (10, 4),
}


class ScreeningCreate(InputModel):
    """Item scores as on the form (CORE-10's positively worded items come pre-keyed).

    The total and band are computed here; a client that sends them is refused (422).
    """

    instrument: Instrument
    responses: list[int] = Field(min_length=1, max_length=20)
    administered_at: datetime | None = None
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _items(self) -> "ScreeningCreate":
        count, top = INSTRUMENT_ITEMS[self.instrument]
        if len(self.responses) != count:
            raise ValueError(f"{self.instrument} has {count} items")
        if any(not 0 <= r <= top for r in self.responses):
            raise ValueError(f"each {self.instrument} item is scored 0-{top}")
        if self.administered_at is not None and self.administered_at.tzinfo is None:
            raise ValueError("administered_at needs a timezone (UTC ISO 8601)")
        return self


class Screening(SQLModel, table=True):
    __tablename__ = "screenings"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    instrument: Instrument = Field(sa_type=enum_type(Instrument))
    responses: list[int] = Field(sa_column=Column(JSON, nullable=False))
    total: int
    severity: str = Field(max_length=40)
    administered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    administered_by: str = Field(max_length=120)
    notes: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ScreeningRead(SQLModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    instrument: Instrument
    responses: list[int]
    total: int
    severity: str
    administered_at: datetime
    notes: str | None
    created_at: datetime


class TrendPoint(SQLModel):
    screening_id: uuid.UUID
    administered_at: datetime
    total: int
    severity: str


class ScreeningTrend(SQLModel):
    """The series of totals for one instrument, oldest first."""

    participant_id: uuid.UUID
    instrument: Instrument
    points: list[TrendPoint]
    withheld: list[WithheldCountRead] = []
