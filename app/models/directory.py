"""The service directory (Open Referral HSDS-like). Not personal data."""

import re
import uuid
from datetime import datetime
from enum import IntEnum, StrEnum

from pydantic import field_validator, model_validator
from sqlalchemy import JSON, Column, String
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


class Setting(StrEnum):
    prison = "prison"
    community = "community"
    both = "both"


class ServiceCategory(StrEnum):
    """A small controlled vocabulary (HSDS taxonomy terms), so searches are exact."""

    housing = "housing"
    benefits = "benefits"
    mental_health = "mental_health"
    substance_misuse = "substance_misuse"
    primary_care = "primary_care"
    peer_support = "peer_support"
    employment = "employment"
    education = "education"
    food = "food"
    family = "family"
    legal = "legal"
    crisis = "crisis"
    medication = "medication"


class Weekday(IntEnum):
    monday = 0
    tuesday = 1
    wednesday = 2
    thursday = 3
    friday = 4
    saturday = 5
    sunday = 6


WEEKDAY_NAMES = [d.name for d in Weekday]
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")


class OpeningHours(InputModel):
    """One opening period on one weekday (local time, 24h `HH:MM`; 24:00 = midnight)."""

    weekday: str = Field(description="monday ... sunday")
    opens: str = Field(description="HH:MM")
    closes: str = Field(description="HH:MM, after opens (split overnight hours by day)")

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str) -> str:
        value = value.lower()
        if value not in WEEKDAY_NAMES:
            raise ValueError("weekday must be monday ... sunday")
        return value

    @field_validator("opens", "closes")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("times are HH:MM (00:00 to 24:00)")
        return value

    @model_validator(mode="after")
    def _order(self) -> "OpeningHours":
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens (split overnight hours by day)")
        return self


class ServiceFields(SQLModel):
    name: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=4000)
    setting: Setting = Field(sa_type=enum_type(Setting))
    eligibility: str | None = Field(default=None, max_length=2000)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    website: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    how_to_refer: str | None = Field(default=None, max_length=2000)
    accepts_throughcare_referrals: bool = False


class ServiceCreate(ServiceFields, InputModel):
    provider_org_id: uuid.UUID | None = Field(
        default=None, description="Defaults to the caller's organisation."
    )
    categories: list[ServiceCategory] = Field(default_factory=list, max_length=ENUM_LIST_MAX)
    exclusions: list[ShortText] = Field(default_factory=list, max_length=30)
    criminal_record_exclusions: list[ShortText] = Field(default_factory=list, max_length=30)
    opening_hours: list[OpeningHours] = Field(default_factory=list, max_length=50)


class ServiceUpdate(InputModel):
    name: str | None = Field(default=None, min_length=2, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    setting: Setting | None = None
    eligibility: str | None = Field(default=None, max_length=2000)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    website: str | None = Field(default=None, max_length=300)
    address: str | None = Field(default=None, max_length=500)
    how_to_refer: str | None = Field(default=None, max_length=2000)
    accepts_throughcare_referrals: bool | None = None
    active: bool | None = None
    categories: list[ServiceCategory] | None = Field(default=None, max_length=ENUM_LIST_MAX)
    exclusions: list[ShortText] | None = Field(default=None, max_length=30)
    criminal_record_exclusions: list[ShortText] | None = Field(default=None, max_length=30)
    opening_hours: list[OpeningHours] | None = Field(default=None, max_length=50)
    verified: bool = Field(
        default=False, description="Also mark the whole entry as checked now (last_verified_at)."
    )


class Service(ServiceFields, table=True):
    __tablename__ = "services"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    provider_org_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    setting: Setting = Field(sa_type=enum_type(Setting), index=True)
    # JSON text of a list of ServiceCategory values; searched with LIKE '%"value"%'
    # (values are fixed slugs, so the match is exact on SQLite and PostgreSQL alike).
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    exclusions: list[str] = Field(sa_column=Column(JSON, nullable=False))
    criminal_record_exclusions: list[str] = Field(sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True, index=True)
    last_verified_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    version: int = 1
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ServiceHours(SQLModel, table=True):
    """One opening period; a weekday with no rows is a closed day (a visible gap)."""

    __tablename__ = "service_hours"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="services.id", index=True, ondelete="CASCADE")
    weekday: int = Field(ge=0, le=6)
    opens: str = Field(sa_type=String(5))
    closes: str = Field(sa_type=String(5))


class ServiceRead(ServiceFields):
    id: uuid.UUID
    provider_org_id: uuid.UUID
    provider_name: str | None = None
    categories: list[ServiceCategory]
    exclusions: list[str]
    criminal_record_exclusions: list[str]
    opening_hours: list[OpeningHours]
    closed_days: list[str] = Field(description="Weekdays with no opening hours at all.")
    weekend_gap: bool = Field(description="Closed on Saturday or Sunday.")
    active: bool
    last_verified_at: datetime
    stale: bool = Field(description="Not verified within the configured period.")
    version: int
    created_at: datetime
    updated_at: datetime
