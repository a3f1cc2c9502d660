"""The access-event log: append in the request's transaction, hash-chained, verifiable.

Each row's hash is SHA-256 over the previous row's hash and a canonical JSON
serialisation of the row (sorted keys, no spaces, UTC timestamps with microseconds).
Appending takes the single chain-head row FOR UPDATE (on SQLite the transaction's
write lock does the same), so concurrent writers on many instances form one chain.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlmodel import Session, col, select

from app.models.audit import AccessEvent, AuditChainHead
from app.sharing.fastsql import Prepared

GENESIS = "0" * 64
_HASHED_FIELDS = (
    "seq",
    "occurred_at",
    "actor",
    "actor_org_id",
    "actor_role",
    "participant_id",
    "action",
    "resource",
    "resource_id",
    "categories",
    "withheld",
    "basis",
    "purpose",
    "request_id",
    "outcome",
    "prev_hash",
)


@dataclass
class EventDraft:
    """An access event before it has a place in the chain."""

    actor: str
    actor_org_id: uuid.UUID | None
    actor_role: str
    participant_id: uuid.UUID | None
    action: str
    resource: str
    purpose: str
    request_id: str
    outcome: str
    resource_id: str | None = None
    categories: list[str] = field(default_factory=list)
    withheld: list[dict[str, Any]] = field(default_factory=list)
    basis: list[dict[str, Any]] = field(default_factory=list)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def canonical_bytes(values: dict[str, Any]) -> bytes:
    """The canonical serialisation of an event's hashed fields."""
    data = {name: _canonical_value(values.get(name)) for name in _HASHED_FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(values: dict[str, Any]) -> str:
    """The chain hash of an event whose `prev_hash` is set."""
    return hashlib.sha256(
        str(values["prev_hash"]).encode() + b"\n" + canonical_bytes(values)
    ).hexdigest()


_events: Table = AccessEvent.__table__  # type: ignore[attr-defined]
_head: Table = AuditChainHead.__table__  # type: ignore[attr-defined]
# Advancing the head takes its row lock (PostgreSQL) for the rest of the transaction; on
# SQLite the BEGIN IMMEDIATE write lock already serialises appenders. It returns the new
# last seq and the *previous* hash, which the new rows chain from.
# The statements run through `Prepared` (app/sharing/fastsql.py): same SQL and type
# processing as Core execution, without its per-call overhead.
ADVANCE_HEAD_SQL = Prepared(
    update(_head)
    .where(_head.c.id == 1)
    .values(seq=_head.c.seq + bindparam("n"))
    .returning(_head.c.seq, _head.c.hash)
)
SET_HEAD_HASH_SQL = Prepared(
    update(_head).where(_head.c.id == 1).values(hash=bindparam("new_hash"))
)
INSERT_EVENTS_SQL = Prepared(insert(_events))


def append_events(session: Session, drafts: list[EventDraft]) -> list[dict[str, Any]]:
    """Append the drafts to the chain, in order, in the session's transaction."""
    if not drafts:
        return []
    conn = session.connection()
    found = ADVANCE_HEAD_SQL.run(conn, {"n": len(drafts)})
    head = found[0] if found else None
    if head is None:
        raise RuntimeError("audit chain head missing: run the migrations")
    seq, prev = int(head[0]) - len(drafts), str(head[1])
    rows: list[dict[str, Any]] = []
    for draft in drafts:
        seq += 1
        values: dict[str, Any] = {
            "seq": seq,
            "occurred_at": draft.occurred_at,
            "actor": draft.actor,
            "actor_org_id": draft.actor_org_id,
            "actor_role": draft.actor_role,
            "participant_id": draft.participant_id,
            "action": draft.action,
            "resource": draft.resource,
            "resource_id": draft.resource_id,
            "categories": sorted(draft.categories),
            "withheld": draft.withheld,
            "basis": draft.basis,
            "purpose": draft.purpose,
            "request_id": draft.request_id,
            "outcome": draft.outcome,
            "prev_hash": prev,
        }
        values["hash"] = event_hash(values)
        prev = values["hash"]
        rows.append(values)
    if len(rows) == 1:
        INSERT_EVENTS_SQL.run(conn, rows[0])
    else:
        INSERT_EVENTS_SQL.run_many(conn, rows)
    SET_HEAD_HASH_SQL.run(conn, {"new_hash": prev})
    return rows


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    rows: int
    first_broken_seq: int | None = None
    problem: str | None = None


def verify_chain(session: Session, batch: int = 5000) -> ChainCheck:
    """Walk the whole chain; report the first row whose hash or link does not hold."""
    prev, expected_seq, count, last = GENESIS, 1, 0, 0
    while True:
        rows = session.exec(
            select(AccessEvent)
            .where(col(AccessEvent.seq) > last)
            .order_by(col(AccessEvent.seq))
            .limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            values = row.model_dump()
            if row.seq != expected_seq:
                return ChainCheck(False, count, expected_seq, "a row is missing (gap in seq)")
            if row.prev_hash != prev:
                return ChainCheck(
                    False, count, row.seq, "prev_hash does not link to the row before"
                )
            if event_hash(values) != row.hash:
                return ChainCheck(False, count, row.seq, "row content does not match its hash")
            prev, expected_seq, count, last = row.hash, row.seq + 1, count + 1, row.seq
    head = session.get(AuditChainHead, 1)
    if head is not None and (head.seq != last or head.hash != prev):
        return ChainCheck(False, count, last + 1, "rows after the last present row were removed")
    return ChainCheck(True, count)
