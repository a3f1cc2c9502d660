"""Load, in a few batched queries, the plain facts the pure decision needs.

The statements are built once at import time with bind parameters and run through SQLAlchemy
Core (no ORM unit of work, no per-request expression building): they sit on the hot path
of every protected read (docs/decisions/0001, `make bench`).
"""

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, or_, select
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


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


_care = _table(CareTeamMember)
_referrals = _table(Referral)
_consents = _table(Consent)
_grants = _table(BreakGlassGrant)
_protocols = _table(SharingProtocol)
_orgs = _table(Organisation)

_PIDS: Any = bindparam("pids", expanding=True)

CARE_TEAM_SQL = select(_care.c.participant_id).where(
    _care.c.participant_id.in_(_PIDS),
    _care.c.organisation_id == bindparam("org"),
    _care.c.since <= bindparam("now"),
    or_(_care.c.until.is_(None), _care.c.until > bindparam("now")),
)
OPEN_REFERRALS_SQL = select(_referrals.c.participant_id, _referrals.c.categories).where(
    _referrals.c.participant_id.in_(_PIDS),
    _referrals.c.to_org_id == bindparam("org"),
    _referrals.c.status.in_([str(s) for s in OPEN_FOR_RECIPIENT]),
)
CONSENTS_SQL = select(
    _consents.c.id,
    _consents.c.participant_id,
    _consents.c.categories,
    _consents.c.recipient_org_ids,
    _consents.c.recipient_org_kinds,
    _consents.c.purposes,
    _consents.c.given_at,
    _consents.c.expires_at,
    _consents.c.withdrawn_at,
).where(_consents.c.participant_id.in_(_PIDS))
GRANTS_SQL = select(
    _grants.c.id,
    _grants.c.participant_id,
    _grants.c.actor,
    _grants.c.categories,
    _grants.c.expires_at,
).where(
    _grants.c.participant_id.in_(_PIDS),
    _grants.c.actor == bindparam("actor"),
    _grants.c.expires_at > bindparam("now"),
)
PROTOCOLS_SQL = select(
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
ORG_KINDS_SQL = select(_orgs.c.id, _orgs.c.kind).where(
    _orgs.c.id.in_(bindparam("ids", expanding=True))
)


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


def load_protocols_for(session: Session, caller: Caller) -> tuple[ProtocolFacts, ...]:
    """Current protocol versions whose recipient is the caller's organisation or its kind."""
    rows = session.connection().execute(
        PROTOCOLS_SQL, {"org": caller.org_id, "org_kind": str(caller.org_kind)}
    )
    return tuple(protocol_facts(r) for r in rows)


def load_participant_facts(
    session: Session,
    caller: Caller,
    participant_ids: Iterable[uuid.UUID],
    now: datetime,
    protocols: tuple[ProtocolFacts, ...],
) -> dict[uuid.UUID, ParticipantFacts]:
    """Facts for each participant, relative to the caller's organisation."""
    ids = list(dict.fromkeys(participant_ids))
    if not ids:
        return {}
    conn = session.connection()
    params = {"pids": ids, "org": caller.org_id, "now": now, "actor": caller.subject}
    care = {row.participant_id for row in conn.execute(CARE_TEAM_SQL, params)}
    referral_categories: dict[uuid.UUID, set[str]] = {}
    for row in conn.execute(OPEN_REFERRALS_SQL, params):
        referral_categories.setdefault(row.participant_id, set()).update(row.categories)
    consents: dict[uuid.UUID, list[ConsentFacts]] = {}
    for consent in conn.execute(CONSENTS_SQL, params):
        consents.setdefault(consent.participant_id, []).append(consent_facts(consent))
    grants: dict[uuid.UUID, list[GrantFacts]] = {}
    for grant in conn.execute(GRANTS_SQL, params):
        grants.setdefault(grant.participant_id, []).append(
            GrantFacts(grant.id, grant.actor, frozenset(grant.categories), grant.expires_at)
        )
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


def load_org_kinds(session: Session, org_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The kind of each named organisation."""
    ids = list(set(org_ids))
    if not ids:
        return {}
    rows = session.connection().execute(ORG_KINDS_SQL, {"ids": ids})
    return {row.id: str(row.kind) for row in rows}
