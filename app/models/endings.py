"""Endings prepared from the start (Engager manual, "Preparation for Intervention Ending").

The intervention end date lives on the participant (a `plan` field). The checklist keeps
what only a practitioner can confirm (handover to community services, the person told);
whether the plan was reviewed for the ending is worked out from the plan's reviews.
"""

import uuid
from datetime import date, datetime

from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, new_id, utcnow
from app.models.participant import Withheld
from app.models.readiness import ReadinessItem


class EndingChecklist(SQLModel, table=True):
    __tablename__ = "ending_checklists"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", unique=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    handover_confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    handover_confirmed_by: str | None = Field(default=None, max_length=120)
    handover_note: str | None = Field(default=None, max_length=2000)
    participant_told_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    participant_told_by: str | None = Field(default=None, max_length=120)
    version: int = 1
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EndingChecklistUpdate(InputModel):
    """Body of PUT …/ending: what the practitioner confirms (false takes it back)."""

    handover_confirmed: bool = Field(
        description="True: handover to community services is confirmed; false takes the "
        "confirmation back."
    )
    handover_note: str | None = Field(
        default=None, max_length=2000, description="A note on the handover, e.g. who takes over."
    )
    participant_told: bool = Field(
        description="True: the person has been told when the intervention ends; false takes it "
        "back."
    )


class Ending(SQLModel):
    """How ready a participant's intervention is to end: the checklist and what is open."""

    participant_id: uuid.UUID
    intervention_end: date | None = None
    days_to_end: int | None = Field(
        default=None, description="Days until the intervention ends (negative once past)."
    )
    items: list[ReadinessItem]
    open_items: list[str]
    version: int = 0
    withheld: list[Withheld] = []


class UpcomingEnding(SQLModel):
    """A participant whose intervention ends soon, with the items still open."""

    participant_id: uuid.UUID
    intervention_end: date
    days_to_end: int = Field(description="Days until the intervention ends.")
    open_items: list[str]
