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

from sqlalchemy import (
    JSON,
    Connection,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlmodel import Session

from app.auth.caller import Caller
from app.models.break_glass import BreakGlassGrant
from app.models.governance import RestrictedRecord, RestrictedRecordOrg, Restriction
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
    RestrictionFacts,
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
_restrictions = _table(Restriction)
_restricted = _table(RestrictedRecord)
_restricted_orgs = _table(RestrictedRecordOrg)

_OPEN_STATUSES = [str(s) for s in OPEN_FOR_RECIPIENT]


def _ids_in(column: Any, prefix: str, n: int) -> Any:
    # n plain bind parameters instead of one expanding one, so the statement compiles
    # once per (dialect, n) and runs through `Prepared` (app/sharing/fastsql.py).
    return column.in_([bindparam(f"{prefix}{i}", type_=column.type) for i in range(n)])


def _status_open(column: Any) -> Any:
    return column.in_(
        [bindparam(f"status{i}", s, type_=column.type) for i, s in enumerate(_OPEN_STATUSES)]
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


# All per-participant facts (and, on a request's first load, the caller's protocols) in
# one UNION ALL: one round trip instead of five. Each branch is tagged by its first column
# and fills the columns it uses; the others are typed NULLs (the first branch fixes the
# result types, so every column carries the type it is read back as).
_FACT_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("pid", _care.c.participant_id.type),
    ("id", _consents.c.id.type),
    ("j1", JSON()),
    ("j2", JSON()),
    ("j3", JSON()),
    ("j4", JSON()),
    ("t1", _consents.c.given_at.type),
    ("t2", _consents.c.expires_at.type),
    ("t3", _consents.c.withdrawn_at.type),
    ("s1", String()),
    ("s2", String()),
    ("s3", String()),
    ("s4", String()),
    ("u1", _protocols.c.source_org_id.type),
    ("u2", _protocols.c.recipient_org_id.type),
    ("d1", _protocols.c.effective_from.type),
    ("d2", _protocols.c.effective_to.type),
    ("n1", Integer()),
)


def _branch(tag: str, source: Any, **columns: Any) -> Any:
    values = [literal_column(f"'{tag}'", String()).label("kind")]
    for name, type_ in _FACT_COLUMNS:
        value = columns.get(name)
        # Real columns keep their SQL type (type_coerce, no CAST: on SQLite a CAST to JSON
        # would give the text NUMERIC affinity); NULLs get a typed CAST for PostgreSQL.
        typed = cast(null(), type_) if value is None else type_coerce(value, type_)
        values.append(typed.label(name))
    return select(*values).select_from(source)


@lru_cache(maxsize=256)
def _facts_union_sql(n: int, with_protocols: bool) -> Prepared:
    branches = [
        _branch("care", _care, pid=_care.c.participant_id, s1=_care.c.role).where(
            _ids_in(_care.c.participant_id, "p", n),
            _care.c.organisation_id == bindparam("org"),
            _care.c.since <= bindparam("now"),
            or_(_care.c.until.is_(None), _care.c.until > bindparam("now")),
        ),
        _branch(
            "referral", _referrals, pid=_referrals.c.participant_id, j1=_referrals.c.categories
        ).where(
            _ids_in(_referrals.c.participant_id, "p", n),
            _referrals.c.to_org_id == bindparam("org"),
            _status_open(_referrals.c.status),
        ),
        _branch(
            "consent",
            _consents,
            pid=_consents.c.participant_id,
            id=_consents.c.id,
            j1=_consents.c.categories,
            j2=_consents.c.recipient_org_ids,
            j3=_consents.c.recipient_org_kinds,
            j4=_consents.c.purposes,
            t1=_consents.c.given_at,
            t2=_consents.c.expires_at,
            t3=_consents.c.withdrawn_at,
        ).where(_ids_in(_consents.c.participant_id, "p", n)),
        _branch(
            "grant",
            _grants,
            pid=_grants.c.participant_id,
            id=_grants.c.id,
            s1=_grants.c.actor,
            j1=_grants.c.categories,
            t2=_grants.c.expires_at,
        ).where(
            _ids_in(_grants.c.participant_id, "p", n),
            _grants.c.actor == bindparam("actor"),
            _grants.c.expires_at > bindparam("now"),
        ),
        # Read afresh on every request (no cache): a restriction applies on the next one.
        _branch(
            "restriction",
            _restrictions,
            pid=_restrictions.c.participant_id,
            id=_restrictions.c.id,
            u2=_restrictions.c.objection_id,
            j1=_restrictions.c.categories,
            s1=_restrictions.c.target,
            u1=_restrictions.c.target_org_id,
            s2=_restrictions.c.target_org_kind,
            s3=_restrictions.c.objection_status,
            t1=_restrictions.c.recorded_at,
            t3=_restrictions.c.lifted_at,
        ).where(
            _ids_in(_restrictions.c.participant_id, "p", n),
            or_(_restrictions.c.lifted_at.is_(None), _restrictions.c.lifted_at > bindparam("now")),
        ),
        # A restricted record that does not name the caller's organisation.
        _branch("closed", _restricted, pid=_restricted.c.participant_id).where(
            _ids_in(_restricted.c.participant_id, "p", n),
            _restricted.c.restricted.is_(True),
            ~exists().where(
                _restricted_orgs.c.participant_id == _restricted.c.participant_id,
                _restricted_orgs.c.org_id == bindparam("org"),
            ),
        ),
    ]
    if with_protocols:
        branches.append(
            _branch(
                "protocol",
                _protocols,
                id=_protocols.c.protocol_id,
                n1=_protocols.c.version,
                s1=_protocols.c.name,
                u1=_protocols.c.source_org_id,
                s2=_protocols.c.source_org_kind,
                u2=_protocols.c.recipient_org_id,
                s3=_protocols.c.recipient_org_kind,
                j1=_protocols.c.categories,
                j2=_protocols.c.purposes,
                s4=_protocols.c.lawful_basis,
                d1=_protocols.c.effective_from,
                d2=_protocols.c.effective_to,
            ).where(
                _protocols.c.is_current.is_(True),
                or_(
                    _protocols.c.recipient_org_id == bindparam("org"),
                    _protocols.c.recipient_org_kind == bindparam("org_kind"),
                ),
            )
        )
    return Prepared(union_all(*branches))


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
    return load_facts(session, caller, participant_ids, now, protocols)[1]


def load_facts(
    session: Session | Connection,
    caller: Caller,
    participant_ids: Iterable[uuid.UUID],
    now: datetime,
    protocols: tuple[ProtocolFacts, ...] | None,
) -> tuple[tuple[ProtocolFacts, ...], dict[uuid.UUID, ParticipantFacts]]:
    """The caller's protocols (loaded in the same statement when `protocols` is None) and
    the facts of each participant, relative to the caller's organisation."""
    ids = list(dict.fromkeys(participant_ids))
    if not ids and protocols is not None:
        return protocols, {}
    if not ids:
        return load_protocols_for(session, caller), {}
    params = {
        **_id_params("p", ids),
        "org": caller.org_id,
        "org_kind": str(caller.org_kind),
        "now": now,
        "actor": caller.subject,
    }
    rows = _facts_union_sql(len(ids), protocols is None).run(_connection(session), params)
    care: set[uuid.UUID] = set()
    leads: set[uuid.UUID] = set()
    closed: set[uuid.UUID] = set()
    restrictions: dict[uuid.UUID, list[RestrictionFacts]] = {}
    referral_categories: dict[uuid.UUID, set[str]] = {}
    consents: dict[uuid.UUID, list[ConsentFacts]] = {}
    grants: dict[uuid.UUID, list[GrantFacts]] = {}
    loaded: list[ProtocolFacts] = []
    for kind, pid, id_, j1, j2, j3, j4, t1, t2, t3, s1, s2, s3, s4, u1, u2, d1, d2, n1 in rows:
        if kind == "care":
            care.add(pid)
            if s1 == "lead":
                leads.add(pid)
        elif kind == "closed":
            closed.add(pid)
        elif kind == "restriction":
            restrictions.setdefault(pid, []).append(
                RestrictionFacts(
                    restriction_id=id_,
                    objection_id=u2,
                    categories=frozenset(j1),
                    target=str(s1),
                    target_org_id=u1,
                    target_org_kind=str(s2) if s2 else None,
                    recorded_at=t1,
                    lifted_at=t3,
                    objection_status=str(s3),
                )
            )
        elif kind == "referral":
            referral_categories.setdefault(pid, set()).update(j1)
        elif kind == "consent":
            consents.setdefault(pid, []).append(
                _consent_tuple_facts((id_, pid, j1, j2, j3, j4, t1, t2, t3))
            )
        elif kind == "grant":
            grants.setdefault(pid, []).append(GrantFacts(id_, s1, frozenset(j1), t2))
        elif kind == "protocol":
            loaded.append(_protocol_tuple_facts((id_, n1, s1, u1, s2, u2, s3, j1, j2, s4, d1, d2)))
        else:  # pragma: no cover - the statement names every kind
            raise RuntimeError(f"unknown fact kind {kind!r}")
    if protocols is None:
        protocols = tuple(loaded)
    return protocols, {
        pid: ParticipantFacts(
            participant_id=pid,
            care_team=pid in care,
            referral_categories=(
                frozenset(referral_categories[pid]) if pid in referral_categories else None
            ),
            protocols=protocols,
            consents=tuple(consents.get(pid, ())),
            grants=tuple(grants.get(pid, ())),
            restrictions=tuple(restrictions.get(pid, ())),
            caller_leads=pid in leads,
            record_closed=pid in closed,
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
