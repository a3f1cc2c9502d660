"""Idempotent creation: a retry with the same key and body replays the first result.

The key row is inserted before the work, inside a savepoint, under a unique constraint
(owner, scope, key). A concurrent retry blocks on that unique index until the first
transaction ends (PostgreSQL) or waits for the write lock (SQLite), then finds the
stored result: race-free without check-then-insert.
"""

import hashlib
import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.auth.caller import Caller
from app.core.errors import Conflict, Unprocessable
from app.models.idempotency import IdempotencyRecord


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: dict[str, Any]
    resource_id: str | None
    replayed: bool


def request_fingerprint(path: str, body: dict[str, Any]) -> str:
    """A stable hash of what was asked for."""
    canonical = json.dumps({"path": path, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(session: Session, owner: str, scope: str, key: str) -> IdempotencyRecord | None:
    return session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.owner == owner,
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key == key,
        )
    ).first()


def _replay(record: IdempotencyRecord, fingerprint: str) -> Outcome:
    if record.request_hash != fingerprint:
        raise Unprocessable("This Idempotency-Key was used with a different request body.")
    if record.response is None:
        raise Conflict("A request with this Idempotency-Key is still in progress.")
    return Outcome(record.status_code, record.response, record.resource_id, True)


def run_idempotent(
    session: Session,
    caller: Caller,
    scope: str,
    key: str | None,
    fingerprint: str,
    create: Callable[[], tuple[int, dict[str, Any], str | None]],
) -> Outcome:
    """Run `create` once per (caller, scope, key); replay its result for retries."""
    if key is None:
        status, body, resource_id = create()
        return Outcome(status, body, resource_id, False)
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise Unprocessable("Idempotency-Key must be 1 to 200 printable characters.")
    owner = caller.subject
    found = _stored(session, owner, scope, key)
    if found is not None:
        return _replay(found, fingerprint)
    record = IdempotencyRecord(owner=owner, scope=scope, key=key, request_hash=fingerprint)
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        found = _stored(session, owner, scope, key)
        if found is None:
            raise
        return _replay(found, fingerprint)
    try:
        status, body, resource_id = create()
    except Exception:
        # The work failed: forget the key so that a retry may try again (an error that is
        # answered rather than raised, such as a clash, would otherwise leave it pending).
        with suppress(Exception):
            session.delete(record)
            session.flush()
        raise
    record.status_code, record.response, record.resource_id = status, body, resource_id
    session.add(record)
    session.flush()
    return Outcome(status, body, resource_id, False)
