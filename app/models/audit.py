"""The access-event log: append-only, hash-chained disclosure and denial records."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, SmallInteger
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, utcnow
from app.sharing.categories import Purpose


class AccessEvent(SQLModel, table=True):
    """One row of a chain: `stripe` picks the chain, `seq` is the position in it."""

    __tablename__ = "access_events"
    stripe: int = Field(default=0, primary_key=True, sa_type=SmallInteger, ge=0)
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
    """One row per stripe: its newest sequence number and hash.

    Advanced only by the insert trigger on `access_events` (which checks that the new row
    links to it); the application role may read it, never write it.
    """

    __tablename__ = "audit_chain_heads"
    stripe: int = Field(primary_key=True, sa_type=SmallInteger)
    seq: int = Field(default=0, sa_type=BigInteger)
    hash: str = Field(max_length=64)


class AccessEventRead(SQLModel):
    stripe: int
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
    purpose: Purpose
    request_id: str
    outcome: str
    prev_hash: str
    hash: str
