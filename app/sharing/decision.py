"""The sharing decision: one pure function from plain facts to Allow(basis) or Deny(reason).

Rules (DESIGN.md, "The sharing decision"), in the order they are applied:
  0. A restricted record exists only for the organisations it names (docs/governance.md).
  6. A participant token sees only its own record, and only the self-service categories.
  1. The source organisation always sees its own records.
  2. Otherwise a legitimate relationship is needed: an active care-team membership, or an
     open referral addressed to the caller's organisation (then only its attached categories).
  3. An active protocol must cover source -> recipient for the category and purpose.
  4. If that protocol's basis is consent, an active consent must cover category, recipient
     and purpose.
  4a. A restriction of the person naming the category and the caller (its organisation, its
     kind, or anyone outside the lead) sets aside every consent-based protocol, and the
     protocols on another lawful basis once its objection is upheld (docs/decisions/0006).
  5. Failing 3-4, an unexpired break-glass grant of the caller naming the category allows it.
Nothing here touches the database, the clock or the request: callers pass `now`.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from app.sharing.categories import Category, Purpose

SELF_SERVICE_CATEGORIES: frozenset[Category] = frozenset(
    {
        Category.identity,
        Category.contact,
        Category.protected_characteristics,
        Category.custody,
        Category.plan,
        Category.appointments,
        Category.referrals,
    }
)


@dataclass(frozen=True)
class CallerFacts:
    org_id: uuid.UUID
    org_kind: str
    purpose: Purpose
    actor: str
    is_participant: bool = False
    participant_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ProtocolFacts:
    protocol_id: uuid.UUID
    version: int
    name: str
    source_org_id: uuid.UUID | None
    source_org_kind: str | None
    recipient_org_id: uuid.UUID | None
    recipient_org_kind: str | None
    categories: frozenset[str]
    purposes: frozenset[str]
    lawful_basis: str
    effective_from: date
    effective_to: date | None


@dataclass(frozen=True)
class ConsentFacts:
    consent_id: uuid.UUID
    categories: frozenset[str]
    recipient_org_ids: frozenset[uuid.UUID]
    recipient_org_kinds: frozenset[str]
    purposes: frozenset[str]
    given_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None


@dataclass(frozen=True)
class GrantFacts:
    grant_id: uuid.UUID
    actor: str
    categories: frozenset[str]
    expires_at: datetime


@dataclass(frozen=True)
class RestrictionFacts:
    """The person's "never share these categories with ..." and the state of its objection."""

    restriction_id: uuid.UUID
    objection_id: uuid.UUID
    categories: frozenset[str]
    target: str  # organisation | org_kind | outside_lead
    target_org_id: uuid.UUID | None
    target_org_kind: str | None
    recorded_at: datetime
    lifted_at: datetime | None
    objection_status: str  # pending | upheld | not_upheld


@dataclass(frozen=True)
class ParticipantFacts:
    """What is known about one participant, relative to one calling organisation."""

    participant_id: uuid.UUID
    care_team: bool = False
    referral_categories: frozenset[str] | None = None  # None: no open referral to caller
    protocols: tuple[ProtocolFacts, ...] = ()
    consents: tuple[ConsentFacts, ...] = ()
    grants: tuple[GrantFacts, ...] = ()
    restrictions: tuple[RestrictionFacts, ...] = ()
    caller_leads: bool = False  # the caller's organisation holds an active lead membership
    record_closed: bool = False  # a restricted record that does not name the caller's org

    @property
    def related(self) -> bool:
        return self.care_team or self.referral_categories is not None


@dataclass(frozen=True)
class Allow:
    basis: str  # self | own_record | protocol | consent | break_glass
    protocol_id: uuid.UUID | None = None
    protocol_version: int | None = None
    consent_id: uuid.UUID | None = None
    grant_id: uuid.UUID | None = None
    trace: tuple[str, ...] = field(default=(), compare=False)

    allowed = True

    def as_basis(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {"basis": self.basis}
        if self.protocol_id:
            out["protocol_id"] = str(self.protocol_id)
            out["protocol_version"] = int(self.protocol_version or 0)
        if self.consent_id:
            out["consent_id"] = str(self.consent_id)
        if self.grant_id:
            out["grant_id"] = str(self.grant_id)
        return out


@dataclass(frozen=True)
class Deny:
    reason: str
    trace: tuple[str, ...] = field(default=(), compare=False)

    allowed = False


Decision = Allow | Deny


def _in_force(protocol: ProtocolFacts, today: date) -> bool:
    return protocol.effective_from <= today and (
        protocol.effective_to is None or today <= protocol.effective_to
    )


def _covers_parties(
    protocol: ProtocolFacts,
    source_org_id: uuid.UUID,
    source_org_kind: str,
    caller: CallerFacts,
) -> bool:
    source_ok = (
        protocol.source_org_id == source_org_id
        if protocol.source_org_id is not None
        else protocol.source_org_kind == source_org_kind
    )
    recipient_ok = (
        protocol.recipient_org_id == caller.org_id
        if protocol.recipient_org_id is not None
        else protocol.recipient_org_kind == caller.org_kind
    )
    return source_ok and recipient_ok


def consent_covers(
    consent: ConsentFacts, category: str, caller: CallerFacts, now: datetime
) -> bool:
    """An active, unexpired, unwithdrawn consent covering category, recipient and purpose."""
    return (
        consent.withdrawn_at is None
        and consent.given_at <= now
        and (consent.expires_at is None or now < consent.expires_at)
        and category in consent.categories
        and caller.purpose in consent.purposes
        and (
            caller.org_id in consent.recipient_org_ids
            or caller.org_kind in consent.recipient_org_kinds
        )
    )


def _consent_reason(
    consents: tuple[ConsentFacts, ...], category: str, caller: CallerFacts, now: datetime
) -> str:
    """The most telling reason no consent applies (for the 'why can't I see this' view)."""
    relevant = [
        c
        for c in consents
        if category in c.categories
        and (caller.org_id in c.recipient_org_ids or caller.org_kind in c.recipient_org_kinds)
    ]
    if any(c.withdrawn_at is not None and c.withdrawn_at <= now for c in relevant):
        return "consent_withdrawn"
    if any(c.expires_at is not None and c.expires_at <= now for c in relevant):
        return "consent_expired"
    if any(caller.purpose not in c.purposes for c in relevant):
        return "consent_purpose_not_covered"
    return "no_consent"


def restriction_applies(
    restriction: RestrictionFacts,
    category: str,
    caller: CallerFacts,
    caller_leads: bool,
    now: datetime,
) -> bool:
    """A restriction in force at `now` naming the category and the caller."""
    if restriction.recorded_at > now or category not in restriction.categories:
        return False
    if restriction.lifted_at is not None and restriction.lifted_at <= now:
        return False
    if restriction.target == "organisation":
        return restriction.target_org_id == caller.org_id
    if restriction.target == "org_kind":
        return restriction.target_org_kind == caller.org_kind
    return restriction.target == "outside_lead" and not caller_leads


def _apply_restrictions(
    protocols: list[ProtocolFacts],
    facts: ParticipantFacts,
    category: str,
    caller: CallerFacts,
    now: datetime,
    trace: list[str],
) -> list[ProtocolFacts]:
    """The protocols that still apply once the person's restrictions are taken into account."""
    applying = sorted(
        (
            r
            for r in facts.restrictions
            if restriction_applies(r, category, caller, facts.caller_leads, now)
        ),
        key=lambda r: str(r.restriction_id),
    )
    if not applying:
        return protocols
    for r in applying:
        trace.append(
            f"rule 4a: restriction {r.restriction_id} of the person keeps {category} "
            "from the caller; consent-based protocols do not apply"
        )
    upheld = [r for r in applying if r.objection_status == "upheld"]
    if upheld:
        trace.append(
            f"rule 4a: objection {upheld[0].objection_id} upheld; "
            "protocols on another lawful basis do not apply either"
        )
        return []
    if any(p.lawful_basis != "consent" for p in protocols):
        states = ", ".join(f"{r.objection_id} {r.objection_status}" for r in applying)
        trace.append(f"rule 4a: objection {states}: protocols on another lawful basis apply")
    return [p for p in protocols if p.lawful_basis != "consent"]


def _break_glass(
    facts: ParticipantFacts,
    category: str,
    caller: CallerFacts,
    now: datetime,
    trace: list[str],
    denial: str,
) -> Decision:
    for grant in facts.grants:
        if grant.actor == caller.actor and category in grant.categories and now < grant.expires_at:
            trace.append(f"rule 5: break-glass grant {grant.grant_id} covers {category}")
            return Allow("break_glass", grant_id=grant.grant_id, trace=tuple(trace))
    trace.append("rule 5: no unexpired break-glass grant of the caller names it")
    return Deny(denial, trace=tuple(trace))


def decide(
    caller: CallerFacts,
    facts: ParticipantFacts,
    category: Category | str,
    source_org_id: uuid.UUID,
    source_org_kind: str,
    now: datetime,
) -> Decision:
    """Allow with a basis, or deny with a reason, one category of one record."""
    trace: list[str] = []
    category = str(category)
    if caller.is_participant:
        if caller.participant_id != facts.participant_id:
            return Deny("not_found", ("rule 6: a participant sees only their own record",))
        if category in SELF_SERVICE_CATEGORIES:
            return Allow("self", trace=("rule 6: the participant's own record",))
        return Deny(
            "ask_your_practitioner",
            ("rule 6: this category is not in self-service; ask your practitioner",),
        )
    if facts.record_closed:
        return Deny(
            "restricted_record",
            ("rule 0: a restricted record, open only to the organisations it names",),
        )
    if source_org_id == caller.org_id:
        return Allow("own_record", trace=("rule 1: recorded by the caller's organisation",))
    trace.append("rule 1: recorded by another organisation")
    if not facts.related:
        trace.append("rule 2: no care-team membership and no open referral")
        return Deny("no_relationship", tuple(trace))
    if not facts.care_team:
        assert facts.referral_categories is not None
        if category not in facts.referral_categories:
            trace.append("rule 2: referral-only relationship; category not attached")
            return _break_glass(facts, category, caller, now, trace, "not_attached_to_referral")
        trace.append("rule 2: referral-only relationship; category attached to the referral")
    else:
        trace.append("rule 2: active care-team membership")
    today = now.date()
    parties = [
        p for p in facts.protocols if _covers_parties(p, source_org_id, source_org_kind, caller)
    ]
    for_category = [p for p in parties if category in p.categories]
    in_force = [p for p in for_category if _in_force(p, today)]
    for_purpose = [p for p in in_force if caller.purpose in p.purposes]
    if not for_purpose:
        if not for_category:
            reason = "no_protocol"
        elif not in_force:
            reason = "protocol_not_in_force"
        else:
            reason = "purpose_not_covered"
        trace.append(f"rule 3: {reason.replace('_', ' ')}")
        return _break_glass(facts, category, caller, now, trace, reason)
    for_purpose = _apply_restrictions(for_purpose, facts, category, caller, now, trace)
    if not for_purpose:
        return _break_glass(facts, category, caller, now, trace, "restricted_by_person")
    for protocol in sorted(for_purpose, key=lambda p: (str(p.protocol_id), p.version)):
        if protocol.lawful_basis != "consent":
            trace.append(
                f"rule 3: protocol '{protocol.name}' v{protocol.version} "
                f"({protocol.lawful_basis}) covers it"
            )
            return Allow("protocol", protocol.protocol_id, protocol.version, trace=tuple(trace))
    protocol = min(for_purpose, key=lambda p: (str(p.protocol_id), p.version))
    trace.append(f"rule 3: protocol '{protocol.name}' v{protocol.version} needs consent")
    for consent in sorted(facts.consents, key=lambda c: str(c.consent_id)):
        if consent_covers(consent, category, caller, now):
            trace.append(f"rule 4: consent {consent.consent_id} covers it")
            return Allow(
                "consent",
                protocol.protocol_id,
                protocol.version,
                consent.consent_id,
                trace=tuple(trace),
            )
    reason = _consent_reason(facts.consents, category, caller, now)
    trace.append(f"rule 4: {reason.replace('_', ' ')}")
    return _break_glass(facts, category, caller, now, trace, reason)
