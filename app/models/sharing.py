"""Information-sharing protocols (versioned) and the participant's consent."""

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, Column, UniqueConstraint
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
from app.sharing.categories import Category, Purpose


class LawfulBasis(StrEnum):
    consent = "consent"
    public_task = "public_task"
    legal_obligation = "legal_obligation"
    vital_interests = "vital_interests"


class ProtocolBase(SQLModel):
    name: str = Field(min_length=3, max_length=200)
    source_org_kind: OrgKind | None = Field(default=None, sa_type=enum_type(OrgKind))
    source_org_id: uuid.UUID | None = None
    recipient_org_kind: OrgKind | None = Field(default=None, sa_type=enum_type(OrgKind))
    recipient_org_id: uuid.UUID | None = None
    lawful_basis: LawfulBasis = Field(sa_type=enum_type(LawfulBasis))
    effective_from: date
    effective_to: date | None = None
    approved_by: str = Field(min_length=2, max_length=200)


class ProtocolWrite(ProtocolBase, InputModel):
    """The body of POST (new protocol) and PUT (new version of a protocol)."""

    categories: list[Category] = Field(max_length=ENUM_LIST_MAX)
    purposes: list[Purpose] = Field(max_length=ENUM_LIST_MAX)

    @field_validator("categories", "purposes")
    @classmethod
    def _non_empty_unique(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one is required")
        return sorted(set(value))

    @model_validator(mode="after")
    def _parties(self) -> "ProtocolWrite":
        if (self.source_org_kind is None) == (self.source_org_id is None):
            raise ValueError("give exactly one of source_org_kind and source_org_id")
        if (self.recipient_org_kind is None) == (self.recipient_org_id is None):
            raise ValueError("give exactly one of recipient_org_kind and recipient_org_id")
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError("effective_to is before effective_from")
        return self


class SharingProtocol(ProtocolBase, table=True):
    """One version of a protocol; `protocol_id` is stable across versions."""

    __tablename__ = "sharing_protocols"
    __table_args__ = (UniqueConstraint("protocol_id", "version"),)
    row_id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purposes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    protocol_id: uuid.UUID = Field(index=True)
    version: int = 1
    is_current: bool = Field(default=True, index=True)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProtocolRead(ProtocolBase):
    categories: list[Category]
    purposes: list[Purpose]
    protocol_id: uuid.UUID
    version: int
    is_current: bool
    created_by: str
    created_at: datetime


class ConsentMethod(StrEnum):
    verbal = "verbal"
    written = "written"


class ConsentCreate(InputModel):
    categories: list[Category] = Field(min_length=1, max_length=ENUM_LIST_MAX)
    recipient_org_ids: list[uuid.UUID] = Field(default=[], max_length=ID_LIST_MAX)
    recipient_org_kinds: list[OrgKind] = Field(default=[], max_length=ENUM_LIST_MAX)
    purposes: list[Purpose] = Field(min_length=1, max_length=ENUM_LIST_MAX)
    method: ConsentMethod
    evidence_ref: str | None = Field(default=None, max_length=200)
    given_at: datetime | None = None
    expires_at: datetime | None = None
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _coherent(self) -> "ConsentCreate":
        if not self.recipient_org_ids and not self.recipient_org_kinds:
            raise ValueError("name at least one recipient organisation or organisation kind")
        if self.method == ConsentMethod.written and not self.evidence_ref:
            raise ValueError("written consent needs an evidence_ref (where the form is kept)")
        for name in ("given_at", "expires_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a timezone (UTC ISO 8601)")
        if self.given_at and self.expires_at and self.expires_at <= self.given_at:
            raise ValueError("expires_at is not after given_at")
        return self


class ConsentWithdraw(InputModel):
    reason: str = Field(min_length=3, max_length=1000)


class Consent(SQLModel, table=True):
    __tablename__ = "consents"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    recipient_org_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    recipient_org_kinds: list[str] = Field(sa_column=Column(JSON, nullable=False))
    purposes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    method: ConsentMethod = Field(sa_type=enum_type(ConsentMethod))
    evidence_ref: str | None = Field(default=None, max_length=200)
    notes: str | None = Field(default=None, max_length=2000)
    recorded_by: str = Field(max_length=120)
    given_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawal_reason: str | None = Field(default=None, max_length=1000)
    withdrawn_by: str | None = Field(default=None, max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ConsentRead(SQLModel):
    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    categories: list[Category]
    recipient_org_ids: list[str]
    recipient_org_kinds: list[OrgKind]
    purposes: list[Purpose]
    method: ConsentMethod
    evidence_ref: str | None
    notes: str | None
    recorded_by: str
    given_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    status: Literal["active", "withdrawn", "expired", "pending"]
