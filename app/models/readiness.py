"""Release readiness: a checklist for the days before release (computed, not stored)."""

import uuid
from datetime import date
from enum import StrEnum

from sqlmodel import SQLModel

from app.models.participant import Withheld


class ReadinessStatus(StrEnum):
    met = "met"
    not_met = "not_met"
    unknown = "unknown"  # the evidence exists but is withheld from the caller


class ReadinessItem(SQLModel):
    key: str
    label: str
    status: ReadinessStatus
    evidence_ids: list[str] = []
    note: str | None = None


class ReleaseReadiness(SQLModel):
    participant_id: uuid.UUID
    release_date: date | None = None
    days_to_release: int | None = None
    items: list[ReadinessItem]
    open_items: list[str]
    withheld: list[Withheld] = []


class UpcomingRelease(SQLModel):
    participant_id: uuid.UUID
    release_date: date
    days_to_release: int
    open_items: list[str]
