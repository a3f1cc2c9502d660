"""Retry-safe creation for every POST that creates a record about a participant.

A partner system that got a timeout or a 503 retries with the same `Idempotency-Key`;
the first result is replayed instead of a second record being made (race-free: the key
row is inserted under a unique constraint before the work, app/services/idempotency.py).
A replay is a disclosure like any read: the person must still exist for the caller
(404 otherwise) and the replayed categories are recorded in the access log.
"""

import uuid
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.core.errors import PreconditionRequired
from app.services.idempotency import request_fingerprint, run_idempotent
from app.sharing.categories import Category
from app.sharing.gate import SharingGate

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retry-safe creation: a retry with the same key and body returns the "
        "first result (`Idempotent-Replayed: true`), a different body is a 422. Required "
        "for partner-system (client) tokens (428 without it). 1-200 printable characters, "
        "scoped to the caller.",
        min_length=1,
        max_length=200,
    ),
]


def require_key_for_partners(gate: SharingGate, key: str | None) -> None:
    """Partner systems retry automatically: without a key a retry would duplicate."""
    if gate.caller.token_type == "client" and not key:
        raise PreconditionRequired("Partner systems must send an Idempotency-Key header.")


def create_once(
    gate: SharingGate,
    request: Request,
    key: str | None,
    *,
    participant_id: uuid.UUID,
    resource: str,
    categories: Iterable[Category | str],
    body: BaseModel,
    create: Callable[[], BaseModel],
    location: Callable[[dict[str, Any]], str] | None = None,
    headers: Callable[[dict[str, Any]], dict[str, str]] | None = None,
    status_code: int = 201,
) -> JSONResponse:
    """Run `create` once per (caller, resource, key) and answer its result; replay it for
    a retry with the same body, after checking the person still exists for the caller."""
    require_key_for_partners(gate, key)

    def _create() -> tuple[int, dict[str, Any], str | None]:
        made = create().model_dump(mode="json")
        made_id = made.get("id")
        return status_code, made, str(made_id) if made_id is not None else None

    outcome = run_idempotent(
        gate.session,
        gate.caller,
        resource,
        key,
        request_fingerprint(request.url.path, body.model_dump(mode="json")),
        _create,
    )
    out_headers: dict[str, str] = {}
    if outcome.replayed:
        # The replay discloses what the first answer did: only if the person still exists
        # for the caller, and on the record like any other read.
        gate.participant(participant_id, action="create_replay", resource=resource)
        for category in categories:
            gate.disclosed(
                participant_id,
                category,
                "idempotent_replay",
                action="create_replay",
                resource=resource,
                resource_id=outcome.resource_id,
            )
        out_headers["Idempotent-Replayed"] = "true"
    if location is not None:
        out_headers["Location"] = location(outcome.body)
    if headers is not None:
        out_headers.update(headers(outcome.body))
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=out_headers)
