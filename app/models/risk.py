"""Risk alerts (the risk register): raised, kept active, closed with a reason."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from app.models.base import InputModel, UTCDateTime, enum_type, new_id, utcnow


class RiskKind(StrEnum):
    self_harm = "self_harm"
    suicide = "suicide"
    harm_to_others = "harm_to_others"
    safeguarding_child = "safeguarding_child"
    safeguarding_adult = "safeguarding_adult"
    medication = "medication"


class RiskLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    very_high = "very_high"


class AlertStatus(StrEnum):
    active = "active"
    closed = "closed"


class RiskAlertFields(SQLModel):
    kind: RiskKind = Field(sa_type=enum_type(RiskKind))
    level: RiskLevel = Field(sa_type=enum_type(RiskLevel))
    notes: str = Field(min_length=1, max_length=4000)


class RiskAlertCreate(RiskAlertFields, InputModel):
    """Body of POST …/alerts."""


class RiskAlertClose(InputModel):
    reason: str = Field(min_length=3, max_length=1000)


class RiskAlert(RiskAlertFields, table=True):
    __tablename__ = "risk_alerts"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    participant_id: uuid.UUID = Field(foreign_key="participants.id", index=True)
    source_org_id: uuid.UUID = Field(foreign_key="organisations.id")
    status: AlertStatus = Field(default=AlertStatus.active, sa_type=enum_type(AlertStatus))
    raised_by: str = Field(max_length=120)
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by: str | None = Field(default=None, max_length=120)
    close_reason: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RiskAlertRead(RiskAlertFields):
    id: uuid.UUID
    participant_id: uuid.UUID
    source_org_id: uuid.UUID
    status: AlertStatus
    raised_by: str
    raised_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    close_reason: str | None
