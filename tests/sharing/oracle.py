"""An independent reading of DESIGN.md "The sharing decision", for tests only.

Written from the specification, not from app/sharing/decision.py, gate.py or facts.py
(none of which is imported or read here). It works on plain facts the test itself
recorded while building a world, so a bug in how the app loads facts is caught too.

The six rules, as read here:

1. The organisation that recorded a record (its source) always sees it: `own_record`.
2. Otherwise the caller's organisation needs a legitimate relationship: an active
   care-team membership (since <= now < until) or an open referral addressed to it
   (submitted, accepted, in progress). Without one the participant does not exist for
   the caller (404, and absent from lists). A referral-only relationship caps the
   categories at those attached to the open referral(s) addressed to the caller.
3. An active protocol (current version, effective_from <= today <= effective_to) must
   cover source (org id or org kind) -> recipient (org id or kind), the category and
   the purpose.
4. When that protocol's lawful basis is `consent`, an active consent (given, not
   expired, not withdrawn) must cover the category, the recipient (org id or kind) and
   the purpose. Any one protocol that allows (with its consent when needed) suffices.
5. An unexpired break-glass grant of the caller (the actor who broke the glass) allows
   the categories it names, on a participant the caller has a relationship with.
4a. (Issue 14, the person's restrictions.) A restriction of the person, from when it is
   recorded until it is lifted, names categories and a recipient: an organisation, an
   organisation kind, or anyone outside the lead (an organisation without an active lead
   care-team membership). For a recipient it names it sets aside every consent-based
   protocol at once; a protocol on another lawful basis still applies until the
   restriction's objection is upheld. It does not touch the recorder's own records
   (rule 1) or break-glass (rule 5, risk to life, reviewed).
6. A participant token sees its own participant only; every other participant is 404.
   Rule 6 lists "their own plan, appointments, referrals and disclosure log"; it does not
   say the person is kept from their own identity, contact or custody details (their own
   personal data), so the oracle lets a participant see every category of their own
   participant record and asserts only that nothing of anyone else is shown.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from app.sharing.fields import PARTICIPANT_FIELDS

OPEN_REFERRAL_STATUSES = frozenset({"submitted", "accepted", "in_progress"})
NON_CONSENT_BASES = frozenset({"public_task", "legal_obligation", "vital_interests"})

# The categories a participant record's own fields belong to.
PARTICIPANT_RECORD_CATEGORIES: frozenset[str] = frozenset(
    str(c) for c in PARTICIPANT_FIELDS.values()
)

# Rule 6 (see the module docstring): the person sees their own participant record.
PARTICIPANT_SELF_CATEGORIES: frozenset[str] = PARTICIPANT_RECORD_CATEGORIES


@dataclass(frozen=True)
class OrgFact:
    id: uuid.UUID
    kind: str
    name: str = ""


@dataclass(frozen=True)
class MembershipFact:
    org_id: uuid.UUID
    since: datetime
    until: datetime | None = None
    lead: bool = False

    def active(self, now: datetime) -> bool:
        return self.since <= now and (self.until is None or self.until > now)


@dataclass(frozen=True)
class ReferralFact:
    from_org_id: uuid.UUID
    to_org_id: uuid.UUID
    status: str
    categories: frozenset[str]


@dataclass(frozen=True)
class ProtocolFact:
    protocol_id: uuid.UUID
    source_org_id: uuid.UUID | None
    source_org_kind: str | None
    recipient_org_id: uuid.UUID | None
    recipient_org_kind: str | None
    categories: frozenset[str]
    purposes: frozenset[str]
    lawful_basis: str
    effective_from: date
    effective_to: date | None
    is_current: bool = True

    def active(self, today: date) -> bool:
        if not self.is_current or self.effective_from > today:
            return False
        return self.effective_to is None or self.effective_to >= today

    def covers(self, source: OrgFact, recipient: OrgFact, category: str, purpose: str) -> bool:
        source_ok = (
            self.source_org_id == source.id
            if self.source_org_id is not None
            else self.source_org_kind == source.kind
        )
        recipient_ok = (
            self.recipient_org_id == recipient.id
            if self.recipient_org_id is not None
            else self.recipient_org_kind == recipient.kind
        )
        return (
            source_ok
            and recipient_ok
            and category in self.categories
            and purpose in (self.purposes)
        )


@dataclass(frozen=True)
class ConsentFact:
    consent_id: uuid.UUID
    categories: frozenset[str]
    recipient_org_ids: frozenset[uuid.UUID]
    recipient_org_kinds: frozenset[str]
    purposes: frozenset[str]
    given_at: datetime
    expires_at: datetime | None = None
    withdrawn_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        if self.given_at > now:
            return False
        if self.withdrawn_at is not None and self.withdrawn_at <= now:
            return False
        return self.expires_at is None or self.expires_at > now

    def covers(self, recipient: OrgFact, category: str, purpose: str) -> bool:
        recipient_ok = (
            recipient.id in self.recipient_org_ids or recipient.kind in self.recipient_org_kinds
        )
        return recipient_ok and category in self.categories and purpose in self.purposes


@dataclass(frozen=True)
class GrantFact:
    actor: str
    actor_org_id: uuid.UUID
    categories: frozenset[str]
    expires_at: datetime

    def active(self, now: datetime) -> bool:
        return self.expires_at > now


@dataclass(frozen=True)
class RestrictionFact:
    categories: frozenset[str]
    org_id: uuid.UUID | None = None  # "never share with this organisation"
    org_kind: str | None = None  # "... with this kind of organisation"
    outside_lead: bool = False  # "... with anyone outside the lead"
    lifted: bool = False
    objection: str = "pending"  # pending | upheld | not_upheld

    def names(self, org: OrgFact, category: str, org_leads: bool) -> bool:
        if self.lifted or category not in self.categories:
            return False
        if self.outside_lead:
            return not org_leads
        return org.id == self.org_id or (self.org_kind is not None and org.kind == self.org_kind)


@dataclass
class ParticipantFacts:
    """What the test knows about one participant (and what it stored)."""

    id: uuid.UUID
    source: OrgFact
    values: dict[str, object]  # personal field -> value as JSON (None when unset)
    memberships: list[MembershipFact] = field(default_factory=list)
    referrals: list[ReferralFact] = field(default_factory=list)
    consents: list[ConsentFact] = field(default_factory=list)
    grants: list[GrantFact] = field(default_factory=list)
    restrictions: list[RestrictionFact] = field(default_factory=list)


@dataclass
class Verdict:
    exists: bool
    allowed: dict[str, str]  # category -> basis
    denied: dict[str, str]  # category -> reason
    trace: list[str] = field(default_factory=list)

    def allowed_set(self) -> set[str]:
        return set(self.allowed)


def relationship(p: ParticipantFacts, org: OrgFact, now: datetime) -> tuple[bool, set[str] | None]:
    """(has a legitimate relationship, category cap: None = no cap, i.e. care team)."""
    if any(m.org_id == org.id and m.active(now) for m in p.memberships):
        return True, None
    open_referrals = [
        r for r in p.referrals if r.to_org_id == org.id and r.status in OPEN_REFERRAL_STATUSES
    ]
    if open_referrals:
        return True, set().union(*(r.categories for r in open_referrals))
    return False, set()


def decide_category(
    p: ParticipantFacts,
    org: OrgFact,
    category: str,
    purpose: str,
    now: datetime,
    protocols: Iterable[ProtocolFact],
    actor: str | None = None,
    source: OrgFact | None = None,
) -> tuple[bool, str]:
    """Allow/deny one category of `p`'s records from `source` for a practitioner of `org`."""
    source = source or p.source
    if org.id == source.id:
        return True, "own_record"
    related, cap = relationship(p, org, now)
    if not related:
        return False, "no_relationship"
    for grant in p.grants:
        if (
            actor is not None
            and grant.actor == actor
            and grant.actor_org_id == org.id
            and grant.active(now)
            and category in grant.categories
        ):
            return True, "break_glass"
    if cap is not None and category not in cap:
        return False, "not_in_referral"
    today = now.date()
    matching = [
        pr for pr in protocols if pr.active(today) and pr.covers(source, org, category, purpose)
    ]
    if not matching:
        return False, "no_protocol"
    leads = any(m.org_id == org.id and m.lead and m.active(now) for m in p.memberships)
    naming = [r for r in p.restrictions if r.names(org, category, leads)]
    if naming:
        if any(r.objection == "upheld" for r in naming):
            return False, "restricted"
        matching = [pr for pr in matching if pr.lawful_basis in NON_CONSENT_BASES]
        if not matching:
            return False, "restricted"
    for pr in matching:
        if pr.lawful_basis in NON_CONSENT_BASES:
            return True, f"protocol:{pr.lawful_basis}"
    for pr in matching:
        for consent in p.consents:
            if consent.active(now) and consent.covers(org, category, purpose):
                return True, "consent"
    return False, "no_consent"


def decide_participant(
    p: ParticipantFacts,
    org: OrgFact,
    purpose: str,
    now: datetime,
    protocols: Iterable[ProtocolFact],
    actor: str | None = None,
) -> Verdict:
    """The oracle's view of GET /participants/{id} for a practitioner of `org`."""
    protocols = list(protocols)
    related, _ = relationship(p, org, now)
    exists = org.id == p.source.id or related
    verdict = Verdict(exists=exists, allowed={}, denied={})
    if not exists:
        verdict.trace.append("no own record and no relationship: 404")
        return verdict
    for category in sorted(PARTICIPANT_RECORD_CATEGORIES):
        ok, why = decide_category(p, org, category, purpose, now, protocols, actor)
        (verdict.allowed if ok else verdict.denied)[category] = why
        verdict.trace.append(f"{category}: {'allow' if ok else 'deny'} ({why})")
    return verdict


def decide_participant_self(p: ParticipantFacts, linked_id: uuid.UUID | None) -> Verdict:
    """Rule 6: a participant token sees its own record only."""
    if linked_id != p.id:
        return Verdict(exists=False, allowed={}, denied={}, trace=["not own record: 404"])
    allowed = {c: "participant_self" for c in PARTICIPANT_SELF_CATEGORIES}
    denied = {c: "participant" for c in PARTICIPANT_RECORD_CATEGORIES - PARTICIPANT_SELF_CATEGORIES}
    return Verdict(exists=True, allowed=allowed, denied=denied)
