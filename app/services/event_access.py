"""Who may learn of an event: the sharing decision, asked when the event is sent or read.

An event about a participant reaches an organisation only if, at that moment, the
organisation is a party to the record itself (a referral's addressee; for an engagement
notice, the lead organisation it was raised for, and only it), or the sharing core allows
it the event's category from the event's source organisation (which needs a relationship
with the person). Each event let through is recorded in the access log
like a read; an event held back is recorded as a denial with its reason.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, or_
from sqlmodel import col, select

from app.auth.caller import Caller
from app.auth.tokens import CLIENT_TOKEN, PARTNER_ROLE
from app.models.events import DomainEvent
from app.models.organisation import Organisation
from app.models.participant import Participant
from app.models.referral import Referral
from app.services.referrals import record_sight, referral_seen
from app.sharing.categories import Category, Purpose
from app.sharing.gate import SharingGate
from app.sharing.visibility import related_to

RESOURCE = "event"
PARTY_BASIS = "referral_addressee"
LEAD_BASIS = "engagement_lead"


@dataclass(frozen=True)
class EventVerdict:
    allowed: bool
    reason: str  # the basis when allowed, why not otherwise


def delivery_caller(org: Organisation, subscription_id: uuid.UUID, delivery_id: str) -> Caller:
    """The caller a webhook delivery acts as: the subscribing organisation's system."""
    return Caller(
        subject=f"webhook:{subscription_id}",
        token_type=CLIENT_TOKEN,
        org_id=org.id,
        org_kind=org.kind,
        role=PARTNER_ROLE,
        scopes=frozenset(),
        token_id="",
        purpose=Purpose.direct_care,
        request_id=f"delivery:{delivery_id}",
    )


def check_event(
    gate: SharingGate, event: DomainEvent, *, action: str, listing: bool = False
) -> EventVerdict:
    """Whether the gate's organisation may learn of `event` now; recorded in the access log."""
    if event.participant_id is None:
        return EventVerdict(True, "no_person")
    category = Category(event.category or Category.identity)
    resource_id = str(event.id)
    if event.type.startswith("referral."):
        return _referral_event(gate, event, action=action, listing=listing)
    if event.type.startswith("engagement."):
        # Worked out from the lead organisation's own view: for it alone, never decided
        # for another organisation (whose view of the person may be narrower).
        if str(gate.caller.org_id) in event.party_org_ids:
            gate.accessed(
                event.participant_id, action=action, resource=RESOURCE, resource_id=resource_id
            )
            return EventVerdict(True, LEAD_BASIS)
        if not listing:
            gate.deny(event.participant_id, action, RESOURCE, "lead_only", resource_id=resource_id)
        return EventVerdict(False, "lead_only")
    if str(gate.caller.org_id) in event.party_org_ids:
        gate.disclosed(
            event.participant_id,
            category,
            PARTY_BASIS,
            action=action,
            resource=RESOURCE,
            resource_id=resource_id,
        )
        return EventVerdict(True, PARTY_BASIS)
    # Decided and recorded as a list of one record (the basis names the protocol or
    # consent, so a later withdrawal finds who received data under it).
    shown, withheld = gate.filter_records(
        event.participant_id,
        [event],
        category,
        lambda e: e.source_org_id,
        resource=RESOURCE,
        action=action,
    )
    if shown:
        return EventVerdict(True, "allowed")
    reason = withheld[0].reason
    if not listing:
        # A delivery not sent is a refused disclosure; a feed page just leaves it out.
        gate.deny(event.participant_id, action, RESOURCE, reason, resource_id=resource_id)
    return EventVerdict(False, reason)


def _referral_event(
    gate: SharingGate, event: DomainEvent, *, action: str, listing: bool
) -> EventVerdict:
    """A referral's event goes to whoever may see that referral now, as the API decides it
    (parties, the closed view of a recipient, or the sharing decision for others)."""
    assert event.participant_id is not None
    referral = gate.session.get(Referral, uuid.UUID(event.data["referral_id"]))
    seen = referral_seen(gate, referral) if referral is not None else None
    if referral is None or seen is None:
        if not listing:
            gate.deny(
                event.participant_id, action, RESOURCE, "not_visible", resource_id=str(event.id)
            )
        return EventVerdict(False, "not_visible")
    record_sight(gate, referral, seen, action=action, record_id=False)
    return EventVerdict(True, seen.basis)


def may_hear_of(org_id: uuid.UUID, now: datetime) -> Any:
    """SQL: the events an organisation could be told of (its own, its parties', related)."""
    return or_(
        col(DomainEvent.participant_id).is_(None),
        col(DomainEvent.source_org_id) == org_id,
        cast(col(DomainEvent.party_org_ids), String).contains(str(org_id)),
        related_to(col(DomainEvent.participant_id), _participant_source(), org_id, now),
    )


def _participant_source() -> Any:
    return (
        select(Participant.source_org_id)
        .where(col(Participant.id) == col(DomainEvent.participant_id))
        .scalar_subquery()
    )
