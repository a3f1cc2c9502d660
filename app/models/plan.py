"""The shared action plan: one current plan per participant, its goals, actions and reviews.

Goals, actions, reviews and frozen plan versions are each one whole record of category
`plan` carrying the organisation that recorded it (app/sharing/fields.py).
"""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, enum_type, new_id, utcnow
from app.models.listing import WithheldCountRead


class Horizon(StrEnum):
    short_term_recovery = "short_term_recovery"
    long_term_maintenance = "long_term_maintenance"


class LifeDomain(StrEnum):
    housing = "housing"
    relationships = "relationships"
    benefits = "benefits"
    employment = "employment"
    health = "health"
    substance_use = "substance_use"
    daily_structure = "daily_structure"
    other = "other"


class GoalStatus(StrEnum):
    active = "active"
    achieved = "achieved"
    on_hold = "on_hold"
    dropped = "dropped"


class OwnerKind(StrEnum):
    participant = "participant"
    practitioner = "practitioner"
    other_professional = "other_professional"
    family_peer = "family_peer"


class ActionStatus(StrEnum):
    planned = "planned"
    done = "done"
    not_done = "not_done"
    cancelled = "cancelled"


# The one table of allowed action status moves (a step can be re-planned after it lapsed).
ACTION_TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    ActionStatus.planned: frozenset(
        {ActionStatus.done, ActionStatus.not_done, ActionStatus.cancelled}
    ),
    ActionStatus.not_done: frozenset(
        {ActionStatus.planned, ActionStatus.done, ActionStatus.cancelled}
    ),
    ActionStatus.done: frozenset({ActionStatus.planned}),
    ActionStatus.cancelled: frozenset({ActionStatus.planned}),
}

# Owner kinds that are professionals of an organisation: they name one.
ORG_OWNER_KINDS = frozenset({OwnerKind.practitioner, OwnerKind.other_professional})


class Plan(SQLModel, table=True):
    """The participant's one current plan; `version` moves on every change to it."""

    __tablename__ = "plans"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", unique=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GoalFields(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    horizon: Horizon = Field(sa_type=enum_type(Horizon))
    life_domain: LifeDomain = Field(sa_type=enum_type(LifeDomain))
    priority: int = Field(default=2, ge=1, le=5, description="1 is the most pressing.")
    status: GoalStatus = Field(default=GoalStatus.active, sa_type=enum_type(GoalStatus))


class GoalCreate(GoalFields, InputModel):
    """Body of POST …/plan/goals."""


class GoalUpdate(InputModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    horizon: Horizon | None = None
    life_domain: LifeDomain | None = None
    priority: int | None = Field(default=None, ge=1, le=5)
    status: GoalStatus | None = None


class Goal(GoalFields, table=True):
    __tablename__ = "plan_goals"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="plans.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    created_by: str = Field(max_length=120)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ActionFields(SQLModel):
    description: str = Field(min_length=1, max_length=1000)
    owner_kind: OwnerKind = Field(sa_type=enum_type(OwnerKind))
    owner_org_id: uuid.UUID | None = Field(default=None, foreign_key="organisations.id")
    owner_user_id: uuid.UUID | None = Field(default=None, foreign_key="users.id")
    owner_label: str | None = Field(
        default=None, max_length=120, description="Who, when not a user (e.g. 'sister')."
    )
    resource: str | None = Field(default=None, max_length=300, description="Resource used.")
    due_date: date | None = None


class ActionCreate(ActionFields, InputModel):
    goal_id: uuid.UUID

    @model_validator(mode="after")
    def _owner(self) -> "ActionCreate":
        if self.owner_kind in ORG_OWNER_KINDS and self.owner_org_id is None:
            raise ValueError("a practitioner or other professional owner needs owner_org_id")
        if self.owner_kind == OwnerKind.participant and (self.owner_org_id or self.owner_user_id):
            raise ValueError("a step the participant owns names no owner organisation or user")
        return self


class ActionUpdate(InputModel):
    description: str | None = Field(default=None, min_length=1, max_length=1000)
    owner_kind: OwnerKind | None = None
    owner_org_id: uuid.UUID | None = None
    owner_user_id: uuid.UUID | None = None
    owner_label: str | None = Field(default=None, max_length=120)
    resource: str | None = Field(default=None, max_length=300)
    due_date: date | None = None
    status: ActionStatus | None = None
    outcome_note: str | None = Field(default=None, max_length=2000)


# What an action's owner (and the participant, for steps they own) may change.
OUTCOME_FIELDS = frozenset({"status", "outcome_note"})


class Action(ActionFields, table=True):
    __tablename__ = "plan_actions"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    goal_id: uuid.UUID = Field(foreign_key="plan_goals.id", index=True)
    plan_id: uuid.UUID = Field(foreign_key="plans.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    status: ActionStatus = Field(default=ActionStatus.planned, sa_type=enum_type(ActionStatus))
    outcome_note: str | None = Field(default=None, max_length=2000)
    outcome_recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome_recorded_by: str | None = Field(default=None, max_length=120)
    created_by: str = Field(max_length=120)
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ActionRead(ActionFields):
    id: uuid.UUID
    goal_id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    status: ActionStatus
    outcome_note: str | None
    outcome_recorded_at: datetime | None
    version: int
    etag: str
    created_at: datetime
    updated_at: datetime


class GoalRead(GoalFields):
    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    version: int
    etag: str
    created_at: datetime
    updated_at: datetime
    actions: list[ActionRead] = []


class PlanRead(SQLModel):
    """The plan as the caller may see it: withheld goals and steps appear only as counts."""

    participant_id: uuid.UUID
    id: uuid.UUID | None = None
    source_org_id: uuid.UUID | None = None
    version: int | None = Field(
        default=0,
        description="Moves with every change to the plan; null when anything is withheld.",
    )
    reviews: int = Field(default=0, description="Reviews the caller may see.")
    goals: list[GoalRead] = []
    steps_without_visible_goal: list[ActionRead] = []
    withheld: list[WithheldCountRead] = []


class ReviewCreate(InputModel):
    held_on: date
    attendees: list[str] = Field(default=[], max_length=30)
    notes: str | None = Field(default=None, max_length=4000)
    next_review_on: date | None = None

    @field_validator("attendees")
    @classmethod
    def _attendees(cls, value: list[str]) -> list[str]:
        cleaned = [a.strip() for a in value]
        if any(not a or len(a) > 120 for a in cleaned):
            raise ValueError("each attendee is 1-120 characters")
        return cleaned


class Review(SQLModel, table=True):
    __tablename__ = "plan_reviews"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="plans.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    held_on: date
    attendees: list[str] = Field(sa_column=Column(JSON, nullable=False))
    notes: str | None = Field(default=None, max_length=4000)
    next_review_on: date | None = None
    plan_version: int
    recorded_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReviewRead(SQLModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    held_on: date
    attendees: list[str]
    notes: str | None
    next_review_on: date | None
    plan_version: int
    created_at: datetime


class PlanVersion(SQLModel, table=True):
    """The plan as it stood when a review froze it (goals and actions, raw)."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "number"),)
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="plans.id", index=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    number: int
    review_id: uuid.UUID | None = Field(default=None, foreign_key="plan_reviews.id")
    snapshot: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PlanVersionRead(SQLModel):
    """A frozen version: only the goals and steps the caller may see now."""

    participant_id: uuid.UUID
    id: uuid.UUID
    source_org_id: uuid.UUID
    version: int
    review_id: uuid.UUID | None
    created_at: datetime
    goals: list[GoalRead] = []
    withheld: list[WithheldCountRead] = []


class WorkbookStep(SQLModel):
    """A step the participant owns, with its goal and when it is due."""

    action: ActionRead
    goal_id: uuid.UUID
    goal_title: str
    overdue: bool


class WorkbookRead(SQLModel):
    participant_id: uuid.UUID
    goals: list[GoalRead] = []
    my_steps: list[WorkbookStep] = []
    withheld: list[WithheldCountRead] = []
