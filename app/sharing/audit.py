"""The access-event log: append in the request's transaction, hash-chained, verifiable.

Events go to one of STRIPES + 1 chains (stripe 0 for events with no participant, else by
participant id, so one person's events form one ordered chain). Each row's hash is SHA-256
over the previous row's hash in its stripe and a canonical JSON serialisation of the row
(sorted keys, no spaces, UTC timestamps with microseconds). Appending locks only the heads
of the stripes it writes to (docs/decisions/0002); signed checkpoints of every head, kept
outside the database, catch rewrites that re-link the chain (app/sharing/checkpoints.py).
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, insert, text
from sqlalchemy import select as core_select
from sqlmodel import Session, select

from app.models.audit import AccessEvent, AuditChainHead
from app.sharing.fastsql import Prepared

GENESIS = "0" * 64
# Participant stripes 1..STRIPES; fixed by migration 5a7e3c1d9b20 (changing it would move
# participants between chains). Stripe 0 holds events with no participant.
STRIPES = 32
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
    # Stripe 0 continues the single chain written before stripes existed, whose rows were
    # hashed without the field; every other stripe's rows commit to their stripe.
    if values.get("stripe"):
        data["stripe"] = values["stripe"]
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(values: dict[str, Any]) -> str:
    """The chain hash of an event whose `prev_hash` is set."""
    return hashlib.sha256(
        str(values["prev_hash"]).encode() + b"\n" + canonical_bytes(values)
    ).hexdigest()


_events: Table = AccessEvent.__table__  # type: ignore[attr-defined]
_heads: Table = AuditChainHead.__table__  # type: ignore[attr-defined]
# The statements run through `Prepared` (app/sharing/fastsql.py): same SQL and type
# processing as Core execution, without its per-call overhead.
# PostgreSQL: lock the wanted heads (ascending stripe order, inside a SECURITY DEFINER
# function: the application role has no UPDATE on the heads) and read them, one round trip.
LOCK_HEADS_PG_SQL = Prepared(
    text("SELECT stripe, seq, hash FROM audit_lock_heads(CAST(:stripes AS integer[]))").columns(
        _heads.c.stripe, _heads.c.seq, _heads.c.hash
    )
)
# SQLite: the transaction's BEGIN IMMEDIATE write lock already serialises appenders.
READ_HEADS_SQL = Prepared(core_select(_heads.c.stripe, _heads.c.seq, _heads.c.hash))
INSERT_EVENTS_SQL = Prepared(insert(_events))


def stripe_for(participant_id: uuid.UUID | None) -> int:
    """The chain an event about this participant goes to (0: no participant)."""
    if participant_id is None:
        return 0
    return 1 + participant_id.int % STRIPES


def _lock_heads(conn: Connection, stripes: list[int]) -> dict[int, tuple[int, str]]:
    if conn.dialect.name == "postgresql":
        found = LOCK_HEADS_PG_SQL.run(conn, {"stripes": stripes})
    else:
        found = READ_HEADS_SQL.run(conn, {})
    heads = {int(r[0]): (int(r[1]), str(r[2])) for r in found}
    if any(s not in heads for s in stripes):
        raise RuntimeError("audit chain heads missing: run the migrations")
    return heads


def append_events(session: Session, drafts: list[EventDraft]) -> list[dict[str, Any]]:
    """Append the drafts to their stripes' chains, in order, in the session's transaction.

    Each stripe's head is locked until commit; a request touching several stripes locks
    them in ascending order. The insert trigger advances the heads (and refuses a row that
    does not link to its head), so the rows are all this function writes.
    """
    if not drafts:
        return []
    conn = session.connection()
    stripes = [stripe_for(d.participant_id) for d in drafts]
    heads = _lock_heads(conn, sorted(set(stripes)))
    rows: list[dict[str, Any]] = []
    for draft, stripe in zip(drafts, stripes, strict=True):
        seq, prev = heads[stripe]
        values: dict[str, Any] = {
            "stripe": stripe,
            "seq": seq + 1,
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
        heads[stripe] = (seq + 1, values["hash"])
        rows.append(values)
    if len(rows) == 1:
        INSERT_EVENTS_SQL.run(conn, rows[0])
    else:
        INSERT_EVENTS_SQL.run_many(conn, rows)
    return rows


@dataclass(frozen=True)
class ChainCheck:
    """The result of walking the chains: ok, or the first broken row and why."""

    ok: bool
    rows: int
    first_broken_seq: int | None = None
    problem: str | None = None
    stripe: int | None = None


def _walk_stripe(
    session: Session, stripe: int, start: tuple[int, str], batch: int
) -> tuple[int, int, str, str | None]:
    """Walk one stripe from `start` (seq, hash); (rows, last seq, last hash, problem)."""
    last, prev = start
    count = 0
    while True:
        # Core rows, not ORM objects: nothing accumulates in the session on long chains.
        found = session.execute(
            core_select(_events)
            .where(_events.c.stripe == stripe, _events.c.seq > last)
            .order_by(_events.c.seq)
            .limit(batch)
        ).all()
        if not found:
            return count, last, prev, None
        for found_row in found:
            row = found_row._mapping
            if row["seq"] != last + 1:
                return count, last + 1, prev, "a row is missing (gap in seq)"
            if row["prev_hash"] != prev:
                return count, row["seq"], prev, "prev_hash does not link to the row before"
            if event_hash(dict(row)) != row["hash"]:
                return count, row["seq"], prev, "row content does not match its hash"
            prev, last, count = row["hash"], row["seq"], count + 1


def verify_chain(
    session: Session, since: dict[int, tuple[int, str]] | None = None, batch: int = 5000
) -> ChainCheck:
    """Walk every stripe's chain (from `since` positions, else from the start); report the
    first row whose hash or link does not hold, or rows cut from a stripe's end."""
    heads = {h.stripe: h for h in session.exec(select(AuditChainHead)).all()}
    if len(heads) != STRIPES + 1:
        return ChainCheck(False, 0, None, "chain heads are missing")
    total = 0
    for stripe in sorted(heads):
        start = (since or {}).get(stripe, (0, GENESIS))
        count, last, prev, problem = _walk_stripe(session, stripe, start, batch)
        total += count
        if problem is not None:
            return ChainCheck(False, total, last, problem, stripe)
        head = heads[stripe]
        if head.seq != last or head.hash != prev:
            return ChainCheck(
                False, total, last + 1, "rows after the last present row were removed", stripe
            )
    return ChainCheck(True, total)
