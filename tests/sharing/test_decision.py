"""The pure sharing decision, rule by rule and in combination (no HTTP, no database)."""

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from app.sharing.categories import Category, Purpose
from app.sharing.decision import (
    Allow,
    CallerFacts,
    ConsentFacts,
    Deny,
    GrantFacts,
    ParticipantFacts,
    ProtocolFacts,
    decide,
)

NOW = datetime(2026, 5, 3, 12, 0, tzinfo=UTC)
PRISON = uuid.UUID(int=1)
PROBATION = uuid.UUID(int=2)
CMHT = uuid.UUID(int=3)
PID = uuid.UUID(int=100)
OTHER_PID = uuid.UUID(int=101)

CALLER = CallerFacts(
    org_id=PROBATION, org_kind="probation", purpose=Purpose.direct_care, actor="user:officer"
)


def protocol(
    basis: str = "consent",
    categories: tuple[str, ...] = ("risk", "mental_health"),
    purposes: tuple[str, ...] = ("direct_care",),
    **kw: object,
) -> ProtocolFacts:
    fields: dict[str, object] = {
        "protocol_id": uuid.UUID(int=500),
        "version": 2,
        "name": "Resettlement",
        "source_org_id": None,
        "source_org_kind": "prison_healthcare",
        "recipient_org_id": None,
        "recipient_org_kind": "probation",
        "categories": frozenset(categories),
        "purposes": frozenset(purposes),
        "lawful_basis": basis,
        "effective_from": date(2026, 1, 1),
        "effective_to": None,
    }
    fields.update(kw)
    return ProtocolFacts(**fields)  # type: ignore[arg-type]


def consent(categories: tuple[str, ...] = ("mental_health",), **kw: object) -> ConsentFacts:
    fields: dict[str, object] = {
        "consent_id": uuid.UUID(int=900),
        "categories": frozenset(categories),
        "recipient_org_ids": frozenset(),
        "recipient_org_kinds": frozenset({"probation"}),
        "purposes": frozenset({"direct_care"}),
        "given_at": NOW - timedelta(days=10),
        "expires_at": None,
        "withdrawn_at": None,
    }
    fields.update(kw)
    return ConsentFacts(**fields)  # type: ignore[arg-type]


def facts(**kw: object) -> ParticipantFacts:
    base: dict[str, object] = {"participant_id": PID, "care_team": True}
    base.update(kw)
    return ParticipantFacts(**base)  # type: ignore[arg-type]


def run(
    f: ParticipantFacts,
    category: str = "mental_health",
    caller: CallerFacts = CALLER,
    source: uuid.UUID = PRISON,
    source_kind: str = "prison_healthcare",
    now: datetime = NOW,
) -> Allow | Deny:
    return decide(caller, f, category, source, source_kind, now)


def grant(
    categories: tuple[str, ...] = ("mental_health",),
    actor: str = "user:officer",
    expires_at: datetime = NOW + timedelta(minutes=30),
) -> GrantFacts:
    return GrantFacts(uuid.UUID(int=700), actor, frozenset(categories), expires_at)


CASES: list[tuple[str, ParticipantFacts, dict[str, object], str]] = [
    # name, facts, run() overrides, expected basis or reason
    (
        "own record without anything else",
        facts(care_team=False),
        {"source": PROBATION},
        "own_record",
    ),
    (
        "no relationship",
        facts(care_team=False, protocols=(protocol("public_task"),)),
        {},
        "no_relationship",
    ),
    ("care team, no protocol", facts(), {}, "no_protocol"),
    (
        "care team, public_task protocol",
        facts(protocols=(protocol("public_task"),)),
        {},
        "protocol",
    ),
    (
        "care team, vital_interests protocol",
        facts(protocols=(protocol("vital_interests"),)),
        {},
        "protocol",
    ),
    ("consent protocol, no consent", facts(protocols=(protocol(),)), {}, "no_consent"),
    (
        "consent protocol, consent given",
        facts(protocols=(protocol(),), consents=(consent(),)),
        {},
        "consent",
    ),
    (
        "consent by recipient org id",
        facts(
            protocols=(protocol(),),
            consents=(
                consent(recipient_org_kinds=frozenset(), recipient_org_ids=frozenset({PROBATION})),
            ),
        ),
        {},
        "consent",
    ),
    (
        "consent for another org",
        facts(
            protocols=(protocol(),),
            consents=(
                consent(recipient_org_kinds=frozenset(), recipient_org_ids=frozenset({CMHT})),
            ),
        ),
        {},
        "no_consent",
    ),
    (
        "consent expired",
        facts(protocols=(protocol(),), consents=(consent(expires_at=NOW - timedelta(seconds=1)),)),
        {},
        "consent_expired",
    ),
    (
        "consent expires exactly now",
        facts(protocols=(protocol(),), consents=(consent(expires_at=NOW),)),
        {},
        "consent_expired",
    ),
    (
        "consent withdrawn",
        facts(
            protocols=(protocol(),), consents=(consent(withdrawn_at=NOW - timedelta(minutes=1)),)
        ),
        {},
        "consent_withdrawn",
    ),
    (
        "consent given in the future",
        facts(protocols=(protocol(),), consents=(consent(given_at=NOW + timedelta(days=1)),)),
        {},
        "no_consent",
    ),
    (
        "consent for another category",
        facts(protocols=(protocol(),), consents=(consent(("risk",)),)),
        {},
        "no_consent",
    ),
    (
        "consent for another purpose",
        facts(protocols=(protocol(),), consents=(consent(purposes=frozenset({"safeguarding"})),)),
        {},
        "consent_purpose_not_covered",
    ),
    (
        "protocol not yet in force",
        facts(protocols=(protocol("public_task", effective_from=date(2026, 6, 1)),)),
        {},
        "protocol_not_in_force",
    ),
    (
        "protocol ended",
        facts(protocols=(protocol("public_task", effective_to=date(2026, 5, 2)),)),
        {},
        "protocol_not_in_force",
    ),
    (
        "protocol ends today (inclusive)",
        facts(protocols=(protocol("public_task", effective_to=date(2026, 5, 3)),)),
        {},
        "protocol",
    ),
    (
        "protocol for another purpose",
        facts(protocols=(protocol("public_task", purposes=("safeguarding",)),)),
        {},
        "purpose_not_covered",
    ),
    (
        "protocol for another category",
        facts(protocols=(protocol("public_task", categories=("risk",)),)),
        {},
        "no_protocol",
    ),
    (
        "protocol from another source kind",
        facts(protocols=(protocol("public_task", source_org_kind="housing"),)),
        {},
        "no_protocol",
    ),
    (
        "protocol naming the source org",
        facts(protocols=(protocol("public_task", source_org_kind=None, source_org_id=PRISON),)),
        {},
        "protocol",
    ),
    (
        "protocol naming another source org",
        facts(protocols=(protocol("public_task", source_org_kind=None, source_org_id=CMHT),)),
        {},
        "no_protocol",
    ),
    (
        "protocol naming the recipient org",
        facts(
            protocols=(
                protocol("public_task", recipient_org_kind=None, recipient_org_id=PROBATION),
            )
        ),
        {},
        "protocol",
    ),
    (
        "protocol naming another recipient",
        facts(protocols=(protocol("public_task", recipient_org_kind=None, recipient_org_id=CMHT),)),
        {},
        "no_protocol",
    ),
    (
        "referral-only, attached category",
        facts(
            care_team=False,
            referral_categories=frozenset({"mental_health"}),
            protocols=(protocol("public_task"),),
        ),
        {},
        "protocol",
    ),
    (
        "referral-only, category not attached",
        facts(
            care_team=False,
            referral_categories=frozenset({"risk"}),
            protocols=(protocol("public_task"),),
        ),
        {},
        "not_attached_to_referral",
    ),
    (
        "referral-only, attached but no protocol",
        facts(care_team=False, referral_categories=frozenset({"mental_health"})),
        {},
        "no_protocol",
    ),
    (
        "break-glass when consent lacking",
        facts(protocols=(protocol(),), grants=(grant(),)),
        {},
        "break_glass",
    ),
    ("break-glass when no protocol", facts(grants=(grant(),)), {}, "break_glass"),
    ("break-glass expired", facts(grants=(grant(expires_at=NOW),)), {}, "no_protocol"),
    (
        "break-glass of another actor",
        facts(grants=(grant(actor="user:someone-else"),)),
        {},
        "no_protocol",
    ),
    ("break-glass for another category", facts(grants=(grant(("risk",)),)), {}, "no_protocol"),
    (
        "break-glass needs a relationship",
        facts(care_team=False, grants=(grant(),)),
        {},
        "no_relationship",
    ),
    (
        "break-glass beyond a referral's categories",
        facts(care_team=False, referral_categories=frozenset({"risk"}), grants=(grant(),)),
        {},
        "break_glass",
    ),
    (
        "normal basis preferred to break-glass",
        facts(protocols=(protocol("public_task"),), grants=(grant(),)),
        {},
        "protocol",
    ),
]


@pytest.mark.parametrize(("name", "f", "overrides", "expected"), CASES, ids=[c[0] for c in CASES])
def test_decision_table(name: str, f: ParticipantFacts, overrides: dict, expected: str) -> None:
    decision = run(f, **overrides)
    outcome = decision.basis if isinstance(decision, Allow) else decision.reason
    assert outcome == expected, decision.trace
    assert decision.trace, "every decision explains itself"


def test_consent_basis_carries_protocol_and_consent_ids() -> None:
    decision = run(facts(protocols=(protocol(),), consents=(consent(),)))
    assert isinstance(decision, Allow)
    assert decision.as_basis() == {
        "basis": "consent",
        "protocol_id": str(uuid.UUID(int=500)),
        "protocol_version": 2,
        "consent_id": str(uuid.UUID(int=900)),
    }


def test_non_consent_protocol_wins_over_consent_protocol() -> None:
    both = (protocol(), protocol("public_task", protocol_id=uuid.UUID(int=501)))
    decision = run(facts(protocols=both))
    assert isinstance(decision, Allow) and decision.protocol_id == uuid.UUID(int=501)


def test_withdrawn_consent_is_ignored_even_if_another_applies() -> None:
    consents = (
        consent(withdrawn_at=NOW - timedelta(hours=1)),
        consent(consent_id=uuid.UUID(int=901)),
    )
    decision = run(facts(protocols=(protocol(),), consents=consents))
    assert isinstance(decision, Allow) and decision.consent_id == uuid.UUID(int=901)


@pytest.mark.parametrize("category", list(Category))
def test_participant_sees_only_self_service_categories(category: Category) -> None:
    me = CallerFacts(
        org_id=PRISON,
        org_kind="prison_healthcare",
        purpose=Purpose.direct_care,
        actor="user:p",
        is_participant=True,
        participant_id=PID,
    )
    decision = run(facts(), category=category, caller=me, source=PROBATION)
    self_service = {
        "identity",
        "contact",
        "protected_characteristics",
        "custody",
        "plan",
        "appointments",
        "referrals",
    }
    assert decision.allowed == (category in self_service)


def test_participant_never_sees_another_participant() -> None:
    me = CallerFacts(
        org_id=PRISON,
        org_kind="prison_healthcare",
        purpose=Purpose.direct_care,
        actor="user:p",
        is_participant=True,
        participant_id=OTHER_PID,
    )
    decision = run(facts(), category="identity", caller=me, source=PRISON)
    assert isinstance(decision, Deny) and decision.reason == "not_found"


def test_participant_token_is_not_own_record_of_its_org() -> None:
    """A participant account belongs to an org, but that does not make records its own."""
    me = CallerFacts(
        org_id=PRISON,
        org_kind="prison_healthcare",
        purpose=Purpose.direct_care,
        actor="user:p",
        is_participant=True,
        participant_id=PID,
    )
    assert not run(facts(), category="risk", caller=me, source=PRISON).allowed


def test_purpose_must_match_consent_and_protocol() -> None:
    safeguarding = replace(CALLER, purpose=Purpose.safeguarding)
    f = facts(
        protocols=(protocol(purposes=("direct_care", "safeguarding")),), consents=(consent(),)
    )
    assert run(f).allowed
    decision = run(f, caller=safeguarding)
    assert isinstance(decision, Deny) and decision.reason == "consent_purpose_not_covered"
