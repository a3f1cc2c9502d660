"""The access-event log: append-only, hash-chained disclosure and denial records."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow


class AccessEvent(SQLModel, table=True):
    __tablename__ = "access_events"
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor: str = Field(max_length=120)
    actor_org_id: uuid.UUID | None = None
    actor_role: str = Field(max_length=40)
    participant_id: uuid.UUID | None = Field(default=None, index=True)
    action: str = Field(max_length=40)
    resource: str = Field(max_length=60)
    resource_id: str | None = Field(default=None, max_length=80)
    categories: list[str] = Field(sa_column=Column(JSON, nullable=False))
    withheld: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    basis: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    purpose: str = Field(max_length=40)
    request_id: str = Field(max_length=64)
    outcome: str = Field(max_length=20)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditChainHead(SQLModel, table=True):
    """One row: the newest sequence number and hash; locked while a writer appends."""

    __tablename__ = "audit_chain_head"
    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger)
    hash: str = Field(max_length=64)


class AccessEventRead(SQLModel):
    seq: int
    occurred_at: datetime
    actor: str
    actor_org_id: uuid.UUID | None
    actor_role: str
    participant_id: uuid.UUID | None
    action: str
    resource: str
    resource_id: str | None
    categories: list[str]
    withheld: list[dict[str, Any]]
    basis: list[dict[str, Any]]
    purpose: str
    request_id: str
    outcome: str
    prev_hash: str
    hash: str
