"""The person's restrictions (with their objection) and restricted records."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import (
    ENUM_LIST_MAX,
    ID_LIST_MAX,
    InputModel,
    UTCDateTime,
    enum_type,
    new_id,
    utcnow,
)
from app.models.organisation import OrgKind
from app.sharing.categories import Category


class RestrictionTarget(StrEnum):
    """Who a restriction keeps the categories from."""

    organisation = "organisation"
    org_kind = "org_kind"
    outside_lead = "outside_lead"  # anyone but the organisation(s) leading the care


class ObjectionStatus(StrEnum):
    pending = "pending"
    upheld = "upheld"
    not_upheld = "not_upheld"


class RestrictionCreate(InputModel):
    categories: list[Category] = Field(min_length=1, max_length=ENUM_LIST_MAX)
    target: RestrictionTarget
    target_org_id: uuid.UUID | None = None
    target_org_kind: OrgKind | None = None
    reason: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _coherent(self) -> "RestrictionCreate":
        wants_org = self.target == RestrictionTarget.organisation
        wants_kind = self.target == RestrictionTarget.org_kind
        if wants_org != (self.target_org_id is not None):
            raise ValueError("target_org_id is given exactly when target is 'organisation'")
        if wants_kind != (self.target_org_kind is not None):
            raise ValueError("target_org_kind is given exactly when target is 'org_kind'")
        return self


class RestrictionLift(InputModel):
    reason: str = Field(min_length=3, max_length=1000)


class ObjectionDecision(InputModel):
    outcome: ObjectionStatus
    reason: str = Field(min_length=3, max_length=2000)

    @model_validator(mode="after")
    def _decided(self) -> "ObjectionDecision":
        if self.outcome == ObjectionStatus.pending:
            raise ValueError("outcome is 'upheld' or 'not_upheld'")
        return self


class Restriction(SQLModel, table=True):
    """ "Never share these categories with ..."; its objection covers non-consent protocols."""

    __tablename__ = "restrictions"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    target: RestrictionTarget = Field(sa_type=enum_type(RestrictionTarget))
    target_org_id: uuid.UUID | None = Field(default=None, foreign_key="organisations.id")
    target_org_kind: OrgKind | None = Field(default=None, sa_type=enum_type(OrgKind))
    reason: str | None = Field(default=None, max_length=2000)
    recorded_by: str = Field(max_length=120)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    lifted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lifted_by: str | None = Field(default=None, max_length=120)
    lift_reason: str | None = Field(default=None, max_length=1000)
    objection_id: uuid.UUID = Field(default_factory=new_id, unique=True)
    objection_status: ObjectionStatus = Field(
        default=ObjectionStatus.pending, sa_type=enum_type(ObjectionStatus)
    )
    objection_decided_by: str | None = Field(default=None, max_length=120)
    objection_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    objection_reason: str | None = Field(default=None, max_length=2000)


class RestrictionRead(SQLModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    categories: list[str]
    target: RestrictionTarget
    target_org_id: uuid.UUID | None
    target_org_kind: str | None
    reason: str | None
    recorded_by: str
    recorded_at: datetime
    lifted_at: datetime | None
    lift_reason: str | None
    status: str = Field(description="active | lifted")
    objection_id: uuid.UUID
    objection_status: ObjectionStatus = Field(
        description="For protocols not based on consent: pending until an "
        "information-governance lead decides; upheld makes it override them too."
    )
    objection_decided_at: datetime | None
    objection_reason: str | None


class RestrictedRecordWrite(InputModel):
    restricted: bool
    reason: str = Field(min_length=3, max_length=1000)
    org_ids: list[uuid.UUID] = Field(
        default=[],
        max_length=ID_LIST_MAX,
        description="The organisations that may still know the person exists (the setting "
        "organisation always may).",
    )


class RestrictedRecord(SQLModel, table=True):
    """A participant visible only to the named organisations, whatever the protocols say."""

    __tablename__ = "restricted_records"
    participant_id: uuid.UUID = Field(foreign_key="participants.id", primary_key=True)
    restricted: bool = True
    reason: str = Field(max_length=1000)
    set_by: str = Field(max_length=120)
    set_by_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RestrictedRecordOrg(SQLModel, table=True):
    """One organisation named on a restricted record (rows, so visibility is one EXISTS)."""

    __tablename__ = "restricted_record_orgs"
    participant_id: uuid.UUID = Field(
        foreign_key="restricted_records.participant_id", primary_key=True
    )
    org_id: uuid.UUID = Field(foreign_key="organisations.id", primary_key=True)


class RestrictedRecordRead(SQLModel):
    participant_id: uuid.UUID
    restricted: bool
    org_ids: list[uuid.UUID]
    reason: str
    set_by: str
    set_at: datetime
