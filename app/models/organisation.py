"""Organisations, their users and their partner-system API clients."""

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import field_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.base import (
    ENUM_LIST_MAX,
    InputModel,
    ShortText,
    UTCDateTime,
    enum_type,
    new_id,
    utcnow,
)


class OrgKind(StrEnum):
    prison_healthcare = "prison_healthcare"
    probation = "probation"
    community_mental_health = "community_mental_health"
    substance_misuse = "substance_misuse"
    housing = "housing"
    peer_support = "peer_support"
    liaison_diversion = "liaison_diversion"
    primary_care = "primary_care"
    social_care = "social_care"
    voluntary = "voluntary"
    care_coordination = "care_coordination"


class Role(StrEnum):
    practitioner = "practitioner"
    supervisor = "supervisor"
    org_admin = "org_admin"
    system_admin = "system_admin"
    participant = "participant"
    governance_lead = "governance_lead"  # decides objections (docs/governance.md)
    commissioner = "commissioner"  # statistics without personal data only


class OrganisationBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind


class OrganisationCreate(OrganisationBase, InputModel):
    """Request body."""


class OrganisationUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None


class Organisation(OrganisationBase, table=True):
    __tablename__ = "organisations"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    kind: OrgKind = Field(sa_type=enum_type(OrgKind))
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class OrganisationRead(OrganisationBase):
    id: uuid.UUID
    active: bool
    created_at: datetime


class UserBase(SQLModel):
    username: str = Field(min_length=3, max_length=80, regex=r"^[a-z0-9._-]+$")
    display_name: str = Field(default="", max_length=120)
    role: Role


class UserCreate(UserBase, InputModel):
    organisation_id: uuid.UUID
    password: str = Field(min_length=12, max_length=256)
    participant_id: uuid.UUID | None = None


class UserUpdate(InputModel):
    display_name: str | None = Field(default=None, max_length=120)
    active: bool | None = None
    password: str | None = Field(default=None, min_length=12, max_length=256)


class User(UserBase, table=True):
    __tablename__ = "users"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    username: str = Field(max_length=80, unique=True)
    role: Role = Field(sa_type=enum_type(Role))
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    participant_id: uuid.UUID | None = Field(default=None, index=True)
    password_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Carried by the user's tokens (claim `cv`) and incremented when the password changes,
    # so a token obtained before the change stops working (app/auth/active.py).
    credentials_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class UserRead(UserBase):
    id: uuid.UUID
    organisation_id: uuid.UUID
    participant_id: uuid.UUID | None
    active: bool
    created_at: datetime


class ApiClientBase(SQLModel):
    name: str = Field(min_length=1, max_length=120)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ApiClientCreate(ApiClientBase, InputModel):
    organisation_id: uuid.UUID
    scopes: list[ShortText] = Field(default_factory=list, max_length=ENUM_LIST_MAX)

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str]) -> list[str]:
        from app.auth.scopes import ALL_SCOPES

        unknown = sorted(set(value) - ALL_SCOPES)
        if unknown:
            raise ValueError(f"unknown scopes: {' '.join(unknown)}")
        return sorted(set(value))


class ApiClientUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    active: bool | None = None


class ApiClient(ApiClientBase, table=True):
    __tablename__ = "api_clients"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    client_id: str = Field(max_length=64, unique=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    secret_hash: str = Field(max_length=255)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ApiClientRead(ApiClientBase):
    id: uuid.UUID
    client_id: str
    organisation_id: uuid.UUID
    active: bool
    created_at: datetime


class ApiClientCreated(ApiClientRead):
    """Returned once, at creation: the only time the secret is shown."""

    client_secret: str


class OrganisationDirectoryEntry(SQLModel):
    """A partner organisation as any authenticated caller sees it (not personal data)."""

    id: uuid.UUID = Field(description="The organisation's id: the `to_org_id` of a referral.")
    name: str = Field(description="The organisation's name.")
    kind: OrgKind = Field(description="What kind of organisation it is.")
    accepts_referrals: bool = Field(
        description="Whether referrals can be sent to it through Throughcare (it is active)."
    )
