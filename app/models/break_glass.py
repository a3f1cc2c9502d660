"""Break-glass grants: time-limited emergency access, always reviewed."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import (
    ENUM_LIST_MAX,
    InputModel,
    UTCDateTime,
    enum_type,
    new_id,
    utcnow,
)
from app.sharing.categories import Category


class BreakGlassReason(StrEnum):
    risk_to_life = "risk_to_life"
    safeguarding = "safeguarding"
    legal_obligation = "legal_obligation"


class ReviewOutcome(StrEnum):
    justified = "justified"
    not_justified = "not_justified"


class BreakGlassCreate(InputModel):
    reason_code: BreakGlassReason
    justification: str = Field(max_length=4000)
    categories: list[Category] = Field(min_length=1, max_length=ENUM_LIST_MAX)


class BreakGlassReviewCreate(InputModel):
    outcome: ReviewOutcome
    note: str = Field(default="", max_length=4000)


class BreakGlassGrant(SQLModel, table=True):
    __tablename__ = "break_glass_grants"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    actor: str = Field(max_length=120, index=True)
    actor_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    reason_code: BreakGlassReason = Field(sa_type=enum_type(BreakGlassReason))
    justification: str = Field(max_length=4000)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    granted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    reviewed_by: str | None = Field(default=None, max_length=120)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_outcome: ReviewOutcome | None = Field(default=None, sa_type=enum_type(ReviewOutcome))
    review_note: str | None = Field(default=None, max_length=4000)


class BreakGlassRead(SQLModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    actor: str
    actor_org_id: uuid.UUID
    reason_code: BreakGlassReason
    justification: str
    categories: list[Category]
    granted_at: datetime
    expires_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_outcome: ReviewOutcome | None
    review_note: str | None
