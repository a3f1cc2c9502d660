"""Load, in a few batched queries, the plain facts the pure decision needs.

The statements are built once at import time with bind parameters and run through SQLAlchemy
Core (no ORM unit of work, no per-request expression building): they sit on the hot path
of every protected read (docs/decisions/0001, `make bench`).
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table, and_, bindparam, or_, select
from sqlmodel import Session

from app.auth.caller import Caller
from app.models.break_glass import BreakGlassGrant
from app.models.organisation import Organisation
from app.models.participant import CareTeamMember
from app.models.referral import OPEN_FOR_RECIPIENT, Referral
from app.models.sharing import Consent, SharingProtocol
from app.sharing.decision import (
    CallerFacts,
    ConsentFacts,
    GrantFacts,
    ParticipantFacts,
    ProtocolFacts,
)
from app.sharing.fastsql import Prepared


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


_care = _table(CareTeamMember)
_referrals = _table(Referral)
_consents = _table(Consent)
_grants = _table(BreakGlassGrant)
_protocols = _table(SharingProtocol)
_orgs = _table(Organisation)

_OPEN_STATUSES = [str(s) for s in OPEN_FOR_RECIPIENT]


def _ids_in(column: Any, prefix: str, n: int) -> Any:
    # n plain bind parameters instead of one expanding one, so the statement compiles
    # once per (dialect, n) and runs through `Prepared` (app/sharing/fastsql.py).
    return column.in_([bindparam(f"{prefix}{i}", type_=column.type) for i in range(n)])


def _status_open(column: Any) -> Any:
    return column.in_(
        [bindparam(f"status{i}", s, type_=column.type) for i, s in enumerate(_OPEN_STATUSES)]
    )


@lru_cache(maxsize=256)
def _care_team_sql(n: int) -> Prepared:
    return Prepared(
        select(_care.c.participant_id).where(
            _ids_in(_care.c.participant_id, "p", n),
            _care.c.organisation_id == bindparam("org"),
            _care.c.since <= bindparam("now"),
            or_(_care.c.until.is_(None), _care.c.until > bindparam("now")),
        )
    )


@lru_cache(maxsize=256)
def _open_referrals_sql(n: int) -> Prepared:
    return Prepared(
        select(_referrals.c.participant_id, _referrals.c.categories).where(
            _ids_in(_referrals.c.participant_id, "p", n),
            _referrals.c.to_org_id == bindparam("org"),
            _status_open(_referrals.c.status),
        )
    )


@lru_cache(maxsize=256)
def _consents_sql(n: int) -> Prepared:
    return Prepared(
        select(
            _consents.c.id,
            _consents.c.participant_id,
            _consents.c.categories,
            _consents.c.recipient_org_ids,
            _consents.c.recipient_org_kinds,
            _consents.c.purposes,
            _consents.c.given_at,
            _consents.c.expires_at,
            _consents.c.withdrawn_at,
        ).where(_ids_in(_consents.c.participant_id, "p", n))
    )


@lru_cache(maxsize=256)
def _grants_sql(n: int) -> Prepared:
    return Prepared(
        select(
            _grants.c.id,
            _grants.c.participant_id,
            _grants.c.actor,
            _grants.c.categories,
            _grants.c.expires_at,
        ).where(
            _ids_in(_grants.c.participant_id, "p", n),
            _grants.c.actor == bindparam("actor"),
            _grants.c.expires_at > bindparam("now"),
        )
    )


PROTOCOLS_SQL = Prepared(
    select(
        _protocols.c.protocol_id,
        _protocols.c.version,
        _protocols.c.name,
        _protocols.c.source_org_id,
        _protocols.c.source_org_kind,
        _protocols.c.recipient_org_id,
        _protocols.c.recipient_org_kind,
        _protocols.c.categories,
        _protocols.c.purposes,
        _protocols.c.lawful_basis,
        _protocols.c.effective_from,
        _protocols.c.effective_to,
    ).where(
        and_(
            _protocols.c.is_current.is_(True),
            or_(
                _protocols.c.recipient_org_id == bindparam("org"),
                _protocols.c.recipient_org_kind == bindparam("org_kind"),
            ),
        )
    )
)


@lru_cache(maxsize=256)
def _org_kinds_sql(n: int) -> Prepared:
    return Prepared(select(_orgs.c.id, _orgs.c.kind).where(_ids_in(_orgs.c.id, "o", n)))


def _id_params(prefix: str, ids: list[uuid.UUID]) -> dict[str, Any]:
    return {f"{prefix}{i}": v for i, v in enumerate(ids)}


def _connection(session: Session | Connection) -> Connection:
    return session if isinstance(session, Connection) else session.connection()


def caller_facts(caller: Caller) -> CallerFacts:
    """The decision's view of the caller."""
    return CallerFacts(
        org_id=caller.org_id,
        org_kind=str(caller.org_kind),
        purpose=caller.purpose,
        actor=caller.subject,
        is_participant=caller.is_participant,
        participant_id=caller.participant_id,
    )


def protocol_facts(row: Any) -> ProtocolFacts:
    """A protocol version (row or model) as plain facts."""
    return ProtocolFacts(
        protocol_id=row.protocol_id,
        version=row.version,
        name=row.name,
        source_org_id=row.source_org_id,
        source_org_kind=str(row.source_org_kind) if row.source_org_kind else None,
        recipient_org_id=row.recipient_org_id,
        recipient_org_kind=str(row.recipient_org_kind) if row.recipient_org_kind else None,
        categories=frozenset(str(c) for c in row.categories),
        purposes=frozenset(str(p) for p in row.purposes),
        lawful_basis=str(row.lawful_basis),
        effective_from=row.effective_from,
        effective_to=row.effective_to,
    )


def _protocol_tuple_facts(row: tuple[Any, ...]) -> ProtocolFacts:
    (pid, version, name, src, src_kind, rcp, rcp_kind, cats, purposes, basis, frm, to) = row
    return ProtocolFacts(
        protocol_id=pid,
        version=version,
        name=name,
        source_org_id=src,
        source_org_kind=str(src_kind) if src_kind else None,
        recipient_org_id=rcp,
        recipient_org_kind=str(rcp_kind) if rcp_kind else None,
        categories=frozenset(str(c) for c in cats),
        purposes=frozenset(str(p) for p in purposes),
        lawful_basis=str(basis),
        effective_from=frm,
        effective_to=to,
    )


def _consent_tuple_facts(row: tuple[Any, ...]) -> ConsentFacts:
    cid, _pid, cats, org_ids, org_kinds, purposes, given, expires, withdrawn = row
    return ConsentFacts(
        consent_id=cid,
        categories=frozenset(cats),
        recipient_org_ids=frozenset(uuid.UUID(str(o)) for o in org_ids),
        recipient_org_kinds=frozenset(org_kinds),
        purposes=frozenset(purposes),
        given_at=given,
        expires_at=expires,
        withdrawn_at=withdrawn,
    )


def consent_facts(row: Any) -> ConsentFacts:
    """A consent (row or model) as plain facts."""
    return ConsentFacts(
        consent_id=row.id,
        categories=frozenset(row.categories),
        recipient_org_ids=frozenset(uuid.UUID(str(o)) for o in row.recipient_org_ids),
        recipient_org_kinds=frozenset(row.recipient_org_kinds),
        purposes=frozenset(row.purposes),
        given_at=row.given_at,
        expires_at=row.expires_at,
        withdrawn_at=row.withdrawn_at,
    )


def load_protocols_for(session: Session | Connection, caller: Caller) -> tuple[ProtocolFacts, ...]:
    """Current protocol versions whose recipient is the caller's organisation or its kind."""
    rows = PROTOCOLS_SQL.run(
        _connection(session), {"org": caller.org_id, "org_kind": str(caller.org_kind)}
    )
    return tuple(_protocol_tuple_facts(r) for r in rows)


def load_participant_facts(
    session: Session | Connection,
    caller: Caller,
    participant_ids: Iterable[uuid.UUID],
    now: datetime,
    protocols: tuple[ProtocolFacts, ...],
) -> dict[uuid.UUID, ParticipantFacts]:
    """Facts for each participant, relative to the caller's organisation."""
    ids = list(dict.fromkeys(participant_ids))
    if not ids:
        return {}
    conn = _connection(session)
    n = len(ids)
    params = {**_id_params("p", ids), "org": caller.org_id, "now": now, "actor": caller.subject}
    care = {row[0] for row in _care_team_sql(n).run(conn, params)}
    referral_categories: dict[uuid.UUID, set[str]] = {}
    for pid, categories in _open_referrals_sql(n).run(conn, params):
        referral_categories.setdefault(pid, set()).update(categories)
    consents: dict[uuid.UUID, list[ConsentFacts]] = {}
    for consent in _consents_sql(n).run(conn, params):
        consents.setdefault(consent[1], []).append(_consent_tuple_facts(consent))
    grants: dict[uuid.UUID, list[GrantFacts]] = {}
    for gid, pid, actor, categories, expires_at in _grants_sql(n).run(conn, params):
        grants.setdefault(pid, []).append(GrantFacts(gid, actor, frozenset(categories), expires_at))
    return {
        pid: ParticipantFacts(
            participant_id=pid,
            care_team=pid in care,
            referral_categories=(
                frozenset(referral_categories[pid]) if pid in referral_categories else None
            ),
            protocols=protocols,
            consents=tuple(consents.get(pid, ())),
            grants=tuple(grants.get(pid, ())),
        )
        for pid in ids
    }


def load_org_kinds(
    session: Session | Connection, org_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """The kind of each named organisation."""
    ids = list(set(org_ids))
    if not ids:
        return {}
    rows = _org_kinds_sql(len(ids)).run(_connection(session), _id_params("o", ids))
    return {oid: str(kind) for oid, kind in rows}
