"""Load, in a few batched queries, the plain facts the pure decision needs."""

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

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


def protocol_facts(row: SharingProtocol) -> ProtocolFacts:
    """A protocol version as plain facts."""
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


def consent_facts(row: Consent) -> ConsentFacts:
    """A consent record as plain facts."""
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
    rows = session.exec(
        select(SharingProtocol).where(
            col(SharingProtocol.is_current).is_(True),
            or_(
                col(SharingProtocol.recipient_org_id) == caller.org_id,
                col(SharingProtocol.recipient_org_kind) == caller.org_kind,
            ),
        )
    ).all()
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
    care = set(
        session.exec(
            select(CareTeamMember.participant_id).where(
                col(CareTeamMember.participant_id).in_(ids),
                CareTeamMember.organisation_id == caller.org_id,
                CareTeamMember.since <= now,
                or_(col(CareTeamMember.until).is_(None), col(CareTeamMember.until) > now),
            )
        ).all()
    )
    referral_categories: dict[uuid.UUID, set[str]] = {}
    for pid, categories in session.exec(
        select(Referral.participant_id, Referral.categories).where(
            col(Referral.participant_id).in_(ids),
            Referral.to_org_id == caller.org_id,
            col(Referral.status).in_(list(OPEN_FOR_RECIPIENT)),
        )
    ).all():
        referral_categories.setdefault(pid, set()).update(categories)
    consents: dict[uuid.UUID, list[ConsentFacts]] = {}
    for consent in session.exec(select(Consent).where(col(Consent.participant_id).in_(ids))):
        consents.setdefault(consent.participant_id, []).append(consent_facts(consent))
    grants: dict[uuid.UUID, list[GrantFacts]] = {}
    for grant in session.exec(
        select(BreakGlassGrant).where(
            col(BreakGlassGrant.participant_id).in_(ids),
            BreakGlassGrant.actor == caller.subject,
            col(BreakGlassGrant.expires_at) > now,
        )
    ):
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
    rows = session.exec(
        select(Organisation.id, Organisation.kind).where(col(Organisation.id).in_(ids))
    ).all()
    return {org_id: str(kind) for org_id, kind in rows}
