"""Webhook subscriptions of the caller's organisation, their delivery logs, redelivery."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth.guards import AUTH_ERRORS
from app.auth.scopes import Scope
from app.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PreconditionRequired,
    Unprocessable,
    error_responses,
)
from app.core.pagination import Page, Paging
from app.routers.idempotent import IdempotencyKey, require_key_for_partners
from app.services import webhooks as service
from app.services.event_feed import DeliveryRead, list_deliveries, redeliver
from app.services.idempotency import request_fingerprint
from app.services.webhooks import (
    SecretRotation,
    SubscriptionCreate,
    SubscriptionRead,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)
from app.sharing.deps import gate_with
from app.sharing.gate import SharingGate

WebhooksManage = Annotated[SharingGate, gate_with(Scope.webhooks_manage)]
router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=AUTH_ERRORS)
_ERRORS = error_responses(Forbidden, NotFound, Unprocessable)


@router.get("", response_model=Page[SubscriptionRead], responses=error_responses(Forbidden))
def list_webhooks(gate: WebhooksManage, paging: Paging) -> Page[SubscriptionRead]:
    """The organisation's webhook subscriptions (secrets are never shown again)."""
    rows, cursor = service.list_subscriptions(gate, paging)
    return Page(items=[service.read(r) for r in rows], next_cursor=cursor)


@router.post(
    "",
    response_model=SubscriptionWithSecret,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Conflict, Forbidden, PreconditionRequired, Unprocessable),
)
def create_webhook(
    gate: WebhooksManage,
    body: SubscriptionCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Subscribe to event types at an https URL; the `whsec_` secret is shown only now.

    Retry-safe with `Idempotency-Key` (required for partner clients): a retry with the same
    key and body answers the same subscription and secret (`Idempotent-Replayed: true`),
    while the secret has not been rotated since; the replay is kept encrypted like the
    secret itself."""
    require_key_for_partners(gate, idempotency_key)
    outcome = service.create_subscription_once(
        gate, body, idempotency_key, request_fingerprint(request.url.path, body.model_dump())
    )
    headers = {"Location": f"/api/v1/webhooks/{outcome.id}"}
    if outcome.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(
        outcome.subscription.model_dump(mode="json"), status_code=201, headers=headers
    )


@router.get("/{subscription_id}", response_model=SubscriptionRead, responses=_ERRORS)
def read_webhook(gate: WebhooksManage, subscription_id: uuid.UUID) -> SubscriptionRead:
    """One subscription of the organisation."""
    return service.read(service.find_subscription(gate, subscription_id))


@router.patch("/{subscription_id}", response_model=SubscriptionRead, responses=_ERRORS)
def update_webhook(
    gate: WebhooksManage, subscription_id: uuid.UUID, body: SubscriptionUpdate
) -> SubscriptionRead:
    """Change the URL or event types, or pause / re-enable the subscription."""
    return service.read(service.update_subscription(gate, subscription_id, body))


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(Forbidden, NotFound),
)
def delete_webhook(gate: WebhooksManage, subscription_id: uuid.UUID) -> Response:
    """Delete a subscription and its delivery log."""
    service.delete_subscription(gate, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{subscription_id}/rotate-secret",
    response_model=SubscriptionWithSecret,
    responses=error_responses(Forbidden, NotFound, Unprocessable),
)
def rotate_webhook_secret(
    gate: WebhooksManage, subscription_id: uuid.UUID, body: SecretRotation
) -> SubscriptionWithSecret:
    """A new secret, shown once; the old one also signs during the grace period."""
    return service.rotate_secret(gate, subscription_id, body)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[DeliveryRead],
    responses=error_responses(Forbidden, NotFound),
)
def list_webhook_deliveries(
    gate: WebhooksManage, subscription_id: uuid.UUID, paging: Paging
) -> Page[DeliveryRead]:
    """The delivery log of a subscription, newest first (outcome, attempts, last error)."""
    rows, cursor = list_deliveries(gate, subscription_id, paging)
    return Page(items=rows, next_cursor=cursor)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(Forbidden, NotFound, Conflict),
)
def redeliver_webhook(gate: WebhooksManage, delivery_id: uuid.UUID) -> DeliveryRead:
    """Send a delivered or failed event again (same webhook-id; sharing decided again)."""
    return redeliver(gate, delivery_id)
