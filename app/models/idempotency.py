"""Idempotency keys for POSTs by partner systems: a retry replays the first result."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("owner", "scope", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=120)
    scope: str = Field(max_length=60)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int = 0
    resource_id: str | None = Field(default=None, max_length=80)
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
