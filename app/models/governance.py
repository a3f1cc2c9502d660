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
    """Where an objection stands: `pending`, `upheld` or `not_upheld`."""

    pending = "pending"
    upheld = "upheld"
    not_upheld = "not_upheld"


class RestrictionCreate(InputModel):
    """A restriction the participant asked for (request body): keep these categories from a target.
    Give `target_org_id` exactly when the target is `organisation`, `target_org_kind` exactly
    when it is `org_kind`.
    """

    categories: list[Category] = Field(min_length=1, max_length=ENUM_LIST_MAX)
    target: RestrictionTarget = Field(description="Who the categories are kept from.")
    target_org_id: uuid.UUID | None = Field(
        default=None, description="The organisation (when target is `organisation`)."
    )
    target_org_kind: OrgKind | None = Field(
        default=None, description="The organisation kind (when target is `org_kind`)."
    )
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
    """Lifting a restriction (request body)."""

    reason: str = Field(min_length=3, max_length=1000)


class ObjectionDecision(InputModel):
    """An information-governance lead's decision on an objection (request body)."""

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
    """A restriction on sharing, whether it is active, and its objection."""

    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    categories: list[str]
    target: RestrictionTarget = Field(description="Who the categories are kept from.")
    target_org_id: uuid.UUID | None = Field(
        description="The organisation, when the target is `organisation`."
    )
    target_org_kind: str | None = Field(
        description="The organisation kind, when the target is `org_kind`."
    )
    reason: str | None
    recorded_by: str
    recorded_at: datetime = Field(description="When it was recorded.")
    lifted_at: datetime | None = Field(description="When it was lifted; null while active.")
    lift_reason: str | None = Field(description="Why it was lifted.")
    status: str = Field(description="active | lifted")
    objection_id: uuid.UUID = Field(description="The objection recorded with it.")
    objection_status: ObjectionStatus = Field(
        description="For protocols not based on consent: pending until an "
        "information-governance lead decides; upheld makes it override them too."
    )
    objection_decided_at: datetime | None = Field(
        description="When the objection was decided; null if pending."
    )
    objection_reason: str | None = Field(description="The reason given for the decision.")


class RestrictedRecordWrite(InputModel):
    """Restrict or unrestrict a person's whole record (request body)."""

    restricted: bool = Field(description="True hides the person from everyone but `org_ids`.")
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
    """Whether a person's whole record is restricted, and to whom."""

    participant_id: uuid.UUID
    restricted: bool = Field(description="True while the record is restricted.")
    org_ids: list[uuid.UUID] = Field(
        description="The organisations that may still know the person exists."
    )
    reason: str
    set_by: str = Field(description="Who set it (`user:<id>`).")
    set_at: datetime = Field(description="When it was set.")
