"""Domain events (the transactional outbox), webhook subscriptions and their deliveries."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Integer
from sqlmodel import Field, SQLModel

from app.models.base import UTCDateTime, new_id, utcnow

# SQLite gives an INTEGER PRIMARY KEY its rowid (autoincrement); PostgreSQL a bigint identity.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")


class DomainEvent(SQLModel, table=True):
    """One thing that happened, written in the transaction of the change that caused it."""

    __tablename__ = "events"
    seq: int | None = Field(
        default=None, sa_column=Column(_SEQ, primary_key=True, autoincrement=True)
    )
    id: uuid.UUID = Field(default_factory=new_id, unique=True)
    type: str = Field(max_length=60, index=True)
    # No foreign keys: the outbox is a log (like the access log) and outlives what it names.
    participant_id: uuid.UUID | None = Field(default=None, index=True)
    # The category of the person's record the event is about (the delivery-time decision).
    category: str | None = Field(default=None, max_length=40)
    # The organisation whose record changed (the decision's source organisation).
    source_org_id: uuid.UUID
    actor_org_id: uuid.UUID | None = None
    # Organisations that are a party to the record itself (a referral's addressee): they
    # hear about it as they may read it (basis `referral_addressee`), without a protocol.
    party_org_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class WebhookSubscription(SQLModel, table=True):
    """Where an organisation wants its events sent, signed with its secret."""

    __tablename__ = "webhook_subscriptions"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisations.id", index=True)
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    description: str | None = Field(default=None, max_length=300)
    # Encrypted at rest (app/services/secret_box.py): `enc:v1:...`, never the secret itself.
    secret: str = Field(max_length=255)
    previous_secret: str | None = Field(default=None, max_length=255)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    active: bool = True
    disabled_reason: str | None = Field(default=None, max_length=200)
    created_by: str = Field(max_length=120)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one subscription: its attempts, outcome and next try."""

    __tablename__ = "webhook_deliveries"
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    event_id: uuid.UUID = Field(foreign_key="events.id", index=True)
    subscription_id: uuid.UUID = Field(foreign_key="webhook_subscriptions.id", index=True)
    # A redelivery is a new row that keeps the event's webhook-id (receivers deduplicate).
    redelivery_of: uuid.UUID | None = Field(default=None)
    status: str = Field(default="pending", max_length=20, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    latency_ms: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EventRead(SQLModel):
    """A thin event: ids and a link, never personal data."""

    id: str
    seq: int
    type: str
    timestamp: datetime = Field(description="When the event happened.")
    data: dict[str, Any] = Field(
        description="Ids and a link to fetch the resource; never personal data."
    )


class EventPage(SQLModel):
    """A page of events after your cursor; poll again with `next_cursor`."""

    items: list[EventRead]
    next_cursor: str


class ConsentExpiryNoticed(SQLModel, table=True):
    """A consent whose expiry has been announced (so the worker tells each recipient once)."""

    __tablename__ = "consent_expiry_noticed"
    consent_id: uuid.UUID = Field(foreign_key="consents.id", primary_key=True)
    noticed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
