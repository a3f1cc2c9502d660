"""Webhook subscriptions of an organisation: create, read, change, rotate, delete.

Secrets are `whsec_` + base64 of 32 random bytes (Standard Webhooks), shown once at
creation and at rotation, stored encrypted (app/services/secret_box.py). During a
rotation's grace period both the new and the previous secret sign every delivery
(space-separated signatures), so a receiver can switch over.
"""

import base64
import hashlib
import hmac
import ipaddress
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import PageParams, paginate
from app.core.settings import get_settings
from app.models.events import WebhookDelivery, WebhookSubscription
from app.models.idempotency import IdempotencyRecord
from app.services import secret_box
from app.services.idempotency import run_idempotent
from app.services.outbox import EVENT_TYPES
from app.services.webhook_http import UnsafeUrl, address_allowed, check_url, parse_networks
from app.sharing import policy
from app.sharing.gate import SharingGate

SECRET_PREFIX = "whsec_"
RESOURCE = "webhook_subscription"


class SubscriptionCreate(BaseModel):
    """A new webhook subscription (request body): https URL and event types."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        max_length=2000,
        description="Where events are POSTed (https; signed per Standard Webhooks).",
    )
    event_types: list[str] = Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        description="The event types to receive, e.g. `referral.submitted`.",
    )
    description: str | None = Field(default=None, max_length=300)


class SubscriptionUpdate(BaseModel):
    """Changes to a webhook subscription (request body)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(
        default=None, max_length=2000, description="A new URL to POST events to."
    )
    event_types: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=len(EVENT_TYPES),
        description="The event types to receive from now on.",
    )
    description: str | None = Field(default=None, max_length=300)
    active: bool | None = None


class SecretRotation(BaseModel):
    """Rotating a subscription's signing secret (request body)."""

    model_config = ConfigDict(extra="forbid")
    grace_hours: int | None = Field(
        default=None,
        ge=0,
        le=24 * 30,
        description="Hours the old secret still signs too (default: the server's setting).",
    )


class SubscriptionRead(BaseModel):
    """A webhook subscription (its secret is never shown again)."""

    id: uuid.UUID
    organisation_id: uuid.UUID
    url: str = Field(description="Where events are POSTed.")
    event_types: list[str] = Field(description="The event types it receives.")
    description: str | None
    active: bool
    disabled_reason: str | None = Field(
        description="Why the server disabled it (e.g. failing); null if not."
    )
    previous_secret_expires_at: datetime | None = Field(
        description="Until when the old secret also signs, after a rotation."
    )
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionRead):
    """The subscription with its signing secret: returned once, never again."""

    secret: str = Field(description="The signing secret (`whsec_...`): shown once; store it.")


def new_secret() -> str:
    """A fresh `whsec_` signing secret (32 random bytes, base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under a `whsec_` secret."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def signing_secrets(sub: WebhookSubscription, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous in its grace
    (decrypted here, only for signing)."""
    out = [secret_box.decrypt(sub.secret, sub.id, "secret")]
    expires = sub.previous_secret_expires_at
    if sub.previous_secret and expires is not None and expires > now:
        out.append(secret_box.decrypt(sub.previous_secret, sub.id, "previous_secret"))
    return out


def current_secret(sub: WebhookSubscription) -> str:
    """The subscription's current secret in clear (for the one answer that shows it)."""
    return secret_box.decrypt(sub.secret, sub.id, "secret")


def _set_secret(sub: WebhookSubscription, secret: str) -> None:
    sub.secret = secret_box.encrypt(secret, sub.id, "secret")


def validate_url(url: str) -> str:
    """422 for a URL webhooks may not use (form, scheme, or a literal blocked address)."""
    settings = get_settings()
    try:
        _, host, _, _ = check_url(url, allow_http=settings.webhook_allow_http)
    except UnsafeUrl as exc:
        raise Unprocessable(str(exc)) from None
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return url  # a name: resolved and checked at every delivery
    if not address_allowed(literal, parse_networks(settings.webhook_allowed_networks)):
        raise Unprocessable("The URL points at an address webhooks may not reach.")
    return url


def _event_types(values: list[str]) -> list[str]:
    unknown = sorted(set(values) - EVENT_TYPES)
    if unknown:
        raise Unprocessable(f"Unknown event types: {', '.join(unknown)}.")
    return sorted(set(values))


def read(sub: WebhookSubscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(sub, from_attributes=True)


def with_secret(sub: WebhookSubscription, secret: str) -> SubscriptionWithSecret:
    """The subscription with `secret` in clear (the stored value is the ciphertext)."""
    return SubscriptionWithSecret(**read(sub).model_dump(), secret=secret)


def _may_manage(gate: SharingGate, action: str) -> None:
    gate.authorize(policy.may_manage_webhooks(gate.actor), action, RESOURCE)


def find_subscription(
    gate: SharingGate, subscription_id: uuid.UUID, action: str = "read"
) -> WebhookSubscription:
    """The caller's organisation's subscription, or 404."""
    _may_manage(gate, action)
    sub = gate.session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound("No such subscription.")
    gate.authorize(
        policy.may_use_subscription(gate.actor, subscription_org_id=sub.organisation_id),
        action,
        RESOURCE,
        resource_id=str(subscription_id),
    )
    return sub


def create_subscription(gate: SharingGate, data: SubscriptionCreate) -> SubscriptionWithSecret:
    """Subscribe the caller's organisation to event types at a URL; the secret is shown once."""
    _may_manage(gate, "create")
    sub = WebhookSubscription(
        organisation_id=gate.caller.org_id,
        url=validate_url(data.url),
        event_types=_event_types(data.event_types),
        description=data.description,
        secret="",
        created_by=gate.caller.subject,
    )
    secret = new_secret()
    _set_secret(sub, secret)
    gate.session.add(sub)
    gate.session.flush()
    return with_secret(sub, secret)


@dataclass(frozen=True)
class CreatedOnce:
    subscription: SubscriptionWithSecret
    id: uuid.UUID
    replayed: bool


def create_subscription_once(
    gate: SharingGate, data: SubscriptionCreate, key: str | None, fingerprint: str
) -> CreatedOnce:
    """`create_subscription` once per (caller, Idempotency-Key). The stored answer holds the
    secret only encrypted; a replay re-reads the subscription (404 once it is deleted, 409
    once its secret was rotated, so a replay never hands out a secret no longer in use)."""
    _may_manage(gate, "create")
    shown: dict[str, SubscriptionWithSecret] = {}

    def create() -> tuple[int, dict[str, Any], str | None]:
        made = create_subscription(gate, data)
        shown["made"] = made
        stored = made.model_dump(mode="json")
        stored["secret"] = secret_box.encrypt(made.secret, made.id, "idempotent_replay")
        return 201, stored, str(made.id)

    outcome = run_idempotent(gate.session, gate.caller, RESOURCE, key, fingerprint, create)
    if not outcome.replayed:
        made = shown["made"]
        return CreatedOnce(made, made.id, False)
    sub_id = uuid.UUID(str(outcome.resource_id))
    sub = find_subscription(gate, sub_id, "create_replay")
    secret = secret_box.decrypt(str(outcome.body["secret"]), sub_id, "idempotent_replay")
    if secret != current_secret(sub):
        raise Conflict(
            "The subscription this Idempotency-Key created has had its secret rotated since; "
            "the old secret is not shown again."
        )
    return CreatedOnce(with_secret(sub, secret), sub_id, True)


def list_subscriptions(
    gate: SharingGate, paging: PageParams
) -> tuple[list[WebhookSubscription], str | None]:
    """The caller's organisation's subscriptions, oldest first."""
    _may_manage(gate, "list")
    stmt = select(WebhookSubscription).where(
        col(WebhookSubscription.organisation_id) == gate.caller.org_id
    )
    return paginate(
        gate.session, stmt, [WebhookSubscription.created_at, WebhookSubscription.id], paging
    )


def update_subscription(
    gate: SharingGate, subscription_id: uuid.UUID, data: SubscriptionUpdate
) -> WebhookSubscription:
    """Change URL, event types, description, or (re-)enable or pause the subscription."""
    sub = find_subscription(gate, subscription_id, "update")
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if not changes:
        raise Unprocessable("The request changes nothing.")
    if any(changes.get(k, "") is None for k in ("url", "event_types", "active")):
        raise Unprocessable("url, event_types and active cannot be null.")
    if "url" in changes:
        sub.url = validate_url(changes["url"])
    if "event_types" in changes:
        sub.event_types = _event_types(changes["event_types"])
    if "description" in changes:
        sub.description = changes["description"]
    if "active" in changes:
        sub.active = changes["active"]
        sub.disabled_reason = None if sub.active else "paused"
    sub.updated_at = gate.now
    gate.session.add(sub)
    gate.session.flush()
    return sub


def rotate_secret(
    gate: SharingGate, subscription_id: uuid.UUID, data: SecretRotation
) -> SubscriptionWithSecret:
    """A new secret (shown once); the old one keeps signing for the grace period."""
    sub = find_subscription(gate, subscription_id, "rotate_secret")
    hours = data.grace_hours
    if hours is None:
        hours = get_settings().webhook_secret_grace_hours
    # Re-encrypted for its new column (the ciphertext is bound to the column it is in).
    sub.previous_secret = secret_box.encrypt(current_secret(sub), sub.id, "previous_secret")
    sub.previous_secret_expires_at = gate.now + timedelta(hours=hours)
    secret = new_secret()
    _set_secret(sub, secret)
    sub.updated_at = gate.now
    gate.session.add(sub)
    gate.session.flush()
    return with_secret(sub, secret)


def delete_subscription(gate: SharingGate, subscription_id: uuid.UUID) -> None:
    """Remove a subscription and its delivery log (nothing more is sent to it)."""
    sub = find_subscription(gate, subscription_id, "delete")
    for delivery in gate.session.exec(
        select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    ):
        gate.session.delete(delivery)
    gate.session.flush()
    gate.session.delete(sub)
    gate.session.flush()


@dataclass
class Reencrypted:
    """What `reencrypt_all` did: values rewritten, already current, and unreadable."""

    rewritten: int = 0
    current: int = 0
    unreadable: list[str] = field(default_factory=list)


def reencrypt_all(session: Session) -> Reencrypted:
    """Rewrite every stored webhook secret (current and previous secrets of subscriptions,
    and the encrypted secret kept for Idempotency-Key replays) under the current key.
    A value no configured key opens is listed, left as it is, and does not stop the rest.
    The caller commits."""
    out = Reencrypted()

    def move(stored: str, row_id: uuid.UUID, column: str, where: str) -> str | None:
        try:
            new = secret_box.reencrypt(stored, row_id, column)
        except secret_box.SecretUnreadable:
            out.unreadable.append(where)
            return None
        if new is None:
            out.current += 1
        else:
            out.rewritten += 1
        return new

    for sub in session.exec(select(WebhookSubscription).order_by(col(WebhookSubscription.id))):
        for column in ("secret", "previous_secret"):
            stored = getattr(sub, column)
            if stored is None:
                continue
            new = move(stored, sub.id, column, f"subscription {sub.id} {column}")
            if new is not None:
                setattr(sub, column, new)
                session.add(sub)
    replays = select(IdempotencyRecord).where(
        IdempotencyRecord.scope == RESOURCE, col(IdempotencyRecord.resource_id).is_not(None)
    )
    for record in session.exec(replays):
        body = dict(record.response or {})
        if "secret" not in body:
            continue
        sub_id = uuid.UUID(str(record.resource_id))
        new = move(str(body["secret"]), sub_id, "idempotent_replay", f"replay {record.id}")
        if new is not None:
            record.response = {**body, "secret": new}
            session.add(record)
    return out
