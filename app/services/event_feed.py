"""The pull alternative to webhooks, and the delivery log of a subscription.

`GET /api/v1/events?after=` returns the same events a webhook would carry, with the same
delivery-time filtering (app/services/event_access.py): the rows come from SQL limited to
what the organisation could hear of, then each is decided and recorded like a read.
"""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field
from sqlmodel import col, select

from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import PageParams, paginate
from app.core.settings import get_settings
from app.models.events import DomainEvent, EventPage, EventRead, WebhookDelivery
from app.services.event_access import check_event, may_hear_of
from app.services.webhooks import find_subscription
from app.sharing import policy
from app.sharing.gate import SharingGate

RESOURCE = "event"


class DeliveryRead(BaseModel):
    """One webhook delivery of an event to a subscription: its attempts and outcome."""

    id: uuid.UUID
    event_id: uuid.UUID = Field(description="The event delivered.")
    event_type: str = Field(description="The event's type, e.g. `referral.submitted`.")
    subscription_id: uuid.UUID = Field(description="The webhook subscription it was sent to.")
    redelivery_of: uuid.UUID | None = Field(
        description="The earlier delivery this one repeats, when asked to redeliver."
    )
    status: str
    attempts: int = Field(description="How many times sending has been tried so far.")
    next_attempt_at: datetime = Field(
        description="When the next try is due (if not delivered yet)."
    )
    last_attempt_at: datetime | None = Field(
        description="When it was last tried; null before the first try."
    )
    last_status_code: int | None = Field(
        description="The HTTP status your endpoint answered last; null if none."
    )
    last_error: str | None = Field(
        description="Why the last try failed (e.g. timeout); null when it did not."
    )
    delivered_at: datetime | None = Field(
        description="When your endpoint accepted it (2xx); null until then."
    )
    latency_ms: int | None = Field(description="How long the successful try took, in milliseconds.")
    created_at: datetime


def _cursor(after: str | None) -> int:
    if after is None or after == "":
        return 0
    if not after.isdigit() or len(after) > 18:
        raise Unprocessable("after must be a cursor returned by this feed.")
    return int(after)


def list_events(gate: SharingGate, after: str | None, limit: int | None) -> EventPage:
    """Events after the cursor that the caller's organisation may learn of now."""
    gate.authorize(policy.may_manage_webhooks(gate.actor), "list", RESOURCE)
    settings = get_settings()
    size = min(limit or settings.default_page_size, settings.max_page_size)
    start = _cursor(after)
    rows = gate.session.exec(
        select(DomainEvent)
        .where(col(DomainEvent.seq) > start, may_hear_of(gate.caller.org_id, gate.now))
        .order_by(col(DomainEvent.seq))
        .limit(size)
    ).all()
    items: list[EventRead] = []
    for event in rows:
        if check_event(gate, event, action="read_event", listing=True).allowed:
            items.append(
                EventRead(
                    id=f"msg_{event.id.hex}",
                    seq=event.seq or 0,
                    type=event.type,
                    timestamp=event.occurred_at,
                    data=event.data,
                )
            )
    # The cursor moves past held-back events too: asking again would not show them.
    last = rows[-1].seq if rows else start
    return EventPage(items=items, next_cursor=str(last))


def _read(delivery: WebhookDelivery, types: dict[uuid.UUID, str]) -> DeliveryRead:
    return DeliveryRead.model_validate(
        {**delivery.model_dump(), "event_type": types.get(delivery.event_id, "")}
    )


def _types(gate: SharingGate, event_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not event_ids:
        return {}
    found = gate.session.exec(
        select(DomainEvent.id, DomainEvent.type).where(col(DomainEvent.id).in_(event_ids))
    ).all()
    return dict(found)


def list_deliveries(
    gate: SharingGate, subscription_id: uuid.UUID, paging: PageParams
) -> tuple[list[DeliveryRead], str | None]:
    """The delivery log of one of the caller's subscriptions, newest first."""
    sub = find_subscription(gate, subscription_id, "list_deliveries")
    stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    rows, cursor = paginate(
        gate.session,
        stmt,
        [WebhookDelivery.created_at, WebhookDelivery.id],
        paging,
        descending=True,
    )
    types = _types(gate, {r.event_id for r in rows})
    return [_read(r, types) for r in rows], cursor


def redeliver(gate: SharingGate, delivery_id: uuid.UUID) -> DeliveryRead:
    """Queue an event again for its subscription (same webhook-id; decided again at send)."""
    gate.authorize(policy.may_manage_webhooks(gate.actor), "redeliver", "webhook_delivery")
    original = gate.session.get(WebhookDelivery, delivery_id)
    if original is None:
        raise NotFound("No such delivery.")
    sub = find_subscription(gate, original.subscription_id, "redeliver")
    if not sub.active:
        raise Conflict("The subscription is disabled: enable it before redelivering.")
    copy = WebhookDelivery(
        event_id=original.event_id, subscription_id=sub.id, redelivery_of=original.id
    )
    gate.session.add(copy)
    gate.session.flush()
    return _read(copy, _types(gate, {copy.event_id}))
