"""Webhook delivery, the Standard Webhooks way: fan-out, claim, send, record.

1. `fan_out` turns new outbox events into one delivery per matching subscription of an
   organisation that could hear of the event (the decision itself waits for step 2).
2. `claim` takes due deliveries (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the write lock
   on SQLite), leases them (`next_attempt_at` moves past the send's deadline, so a worker
   that dies mid-send leaves the delivery to be retried, never lost), asks the sharing
   core whether the organisation may learn of the event *now*, records that in the access
   log, and signs the payload. All in one transaction, committed before anything is sent.
3. `send` posts outside any transaction, through the SSRF guard.
4. `record` stores the outcome: 2xx delivered; 410 disables the subscription; anything
   else retries on the configured schedule (with jitter, never before `Retry-After`),
   and when the schedule is used up the subscription is disabled and its org notified.
"""

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from app.core.settings import get_settings
from app.models.base import utcnow
from app.models.events import DomainEvent, WebhookDelivery, WebhookSubscription
from app.models.notice import Notice
from app.models.organisation import Organisation
from app.services import webhook_http
from app.services.event_access import check_event, delivery_caller, may_hear_of
from app.services.secret_box import SecretUnreadable
from app.services.webhooks import sign, signing_secrets
from app.sharing.gate import SharingGate

PENDING, DELIVERED, FAILED, WITHHELD = "pending", "delivered", "failed", "withheld"
MAX_RETRY_AFTER = 86_400.0
log = logging.getLogger("throughcare.webhooks")


@dataclass(frozen=True)
class SendPlan:
    delivery_id: uuid.UUID
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    delivery_id: uuid.UUID
    status_code: int | None
    error: str | None
    retry_after: float | None
    latency_ms: int


def fan_out(session: Session, now: datetime, limit: int = 200) -> int:
    """One delivery per (new event, matching active subscription that could hear of it)."""
    events = session.exec(
        select(DomainEvent)
        .where(col(DomainEvent.dispatched_at).is_(None))
        .order_by(col(DomainEvent.seq))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not events:
        return 0
    subs = session.exec(select(WebhookSubscription).where(col(WebhookSubscription.active))).all()
    created = 0
    for event in events:
        for sub in subs:
            if event.type not in sub.event_types:
                continue
            hears = session.exec(
                select(DomainEvent.seq).where(
                    DomainEvent.seq == event.seq, may_hear_of(sub.organisation_id, now)
                )
            ).first()
            if hears is None:
                continue
            session.add(WebhookDelivery(event_id=event.id, subscription_id=sub.id))
            created += 1
        event.dispatched_at = now
        session.add(event)
    session.flush()
    return created


def _payload(event: DomainEvent) -> bytes:
    body = {"type": event.type, "timestamp": event.occurred_at.isoformat(), "data": event.data}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def claim(session: Session, now: datetime, limit: int) -> list[SendPlan]:
    """Lease due deliveries, decide each at send time (audited), and sign what may go."""
    settings = get_settings()
    lease = timedelta(seconds=settings.webhook_timeout_seconds * 2 + 30)
    rows = session.exec(
        select(WebhookDelivery)
        .join(WebhookSubscription, col(WebhookSubscription.id) == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == PENDING,
            col(WebhookDelivery.next_attempt_at) <= now,
            col(WebhookSubscription.active),
        )
        .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    ).all()
    plans: list[SendPlan] = []
    for delivery in rows:
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.next_attempt_at = now + lease
        session.add(delivery)
        plan = _prepare(session, delivery, now)
        if plan is not None:
            plans.append(plan)
    session.flush()
    return plans


def _prepare(session: Session, delivery: WebhookDelivery, now: datetime) -> SendPlan | None:
    event = session.exec(select(DomainEvent).where(DomainEvent.id == delivery.event_id)).first()
    sub = session.get(WebhookSubscription, delivery.subscription_id)
    assert event is not None and sub is not None  # foreign keys
    org = session.get(Organisation, sub.organisation_id)
    if org is None or not org.active:
        delivery.status, delivery.last_error = WITHHELD, "organisation_inactive"
        return None
    try:
        secrets = signing_secrets(sub, now)
    except SecretUnreadable:
        # The key file is not the one the secrets were encrypted with: nothing can be
        # signed, so nothing is sent or logged as disclosed. The delivery stays pending
        # (retried when its lease ends) so that restoring the right key resumes delivery.
        log.error("webhook secret of subscription %s does not decrypt: check the key", sub.id)
        delivery.last_error = "secret_unreadable"
        return None
    gate = SharingGate(session, delivery_caller(org, sub.id, str(delivery.id)), now)
    verdict = check_event(gate, event, action="webhook_delivery")
    gate.flush_success()  # the access log rows join this transaction, before any send
    if not verdict.allowed:
        delivery.status, delivery.last_error = WITHHELD, f"withheld: {verdict.reason}"
        return None
    body = _payload(event)
    msg_id = f"msg_{event.id.hex}"
    timestamp = int(now.timestamp())
    signature = " ".join(sign(s, msg_id, timestamp, body) for s in secrets)
    headers = {
        "content-type": "application/json",
        "user-agent": "Throughcare-Webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }
    return SendPlan(delivery.id, sub.url, body, headers)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None  # an HTTP date: the schedule applies


def send(plan: SendPlan) -> Outcome:
    """POST one signed delivery through the SSRF guard (no transaction is open)."""
    settings = get_settings()
    started = time.monotonic()
    try:
        target = webhook_http.resolve(
            plan.url,
            allow_http=settings.webhook_allow_http,
            allowed=webhook_http.parse_networks(settings.webhook_allowed_networks),
        )
        reply = webhook_http.post(
            target,
            plan.body,
            plan.headers,
            timeout=settings.webhook_timeout_seconds,
            max_bytes=settings.webhook_max_response_bytes,
        )
    except webhook_http.UnsafeUrl as exc:
        return Outcome(plan.delivery_id, None, str(exc), None, _ms(started))
    except OSError as exc:
        return Outcome(plan.delivery_id, None, type(exc).__name__, None, _ms(started))
    retry_after = _retry_after(reply.headers.get("retry-after"))
    return Outcome(plan.delivery_id, reply.status, None, retry_after, _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def next_delay(attempts: int, schedule: list[float], retry_after: float | None) -> float | None:
    """Seconds before the next try after `attempts` tries, or None when they are used up."""
    if attempts > len(schedule):
        return None
    delay = schedule[attempts - 1] * random.uniform(0.8, 1.2)  # noqa: S311 -- jitter, not a secret
    return max(delay, retry_after or 0.0)


def _disable(session: Session, sub: WebhookSubscription, reason: str, message: str) -> None:
    sub.active = False
    sub.disabled_reason = reason
    sub.updated_at = utcnow()
    session.add(sub)
    session.add(
        Notice(
            organisation_id=sub.organisation_id,
            kind="webhook_disabled",
            subject_id=str(sub.id),
            message=message,
        )
    )


def record(session: Session, outcome: Outcome, now: datetime) -> WebhookDelivery | None:
    """Store a send's outcome: delivered, retry later, or give up (disabling the endpoint)."""
    delivery = session.get(WebhookDelivery, outcome.delivery_id, with_for_update=True)
    if delivery is None or delivery.status != PENDING:
        return delivery  # deleted with its subscription meanwhile
    sub = session.get(WebhookSubscription, delivery.subscription_id)
    assert sub is not None
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.latency_ms = outcome.latency_ms
    code = outcome.status_code
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at = DELIVERED, now
    elif code == 410:
        delivery.status = FAILED
        _disable(session, sub, "gone", "A webhook endpoint answered 410 Gone: it is disabled.")
    else:
        schedule = get_settings().webhook_retry_schedule
        delay = next_delay(delivery.attempts, schedule, outcome.retry_after)
        if delay is None:
            delivery.status = FAILED
            _disable(
                session,
                sub,
                "retries_exhausted",
                "A webhook endpoint failed every retry: it is disabled until re-enabled.",
            )
        else:
            delivery.next_attempt_at = now + timedelta(seconds=delay)
    session.add(delivery)
    session.flush()
    return delivery
