"""The decision with the person's restrictions (rule 4a): table and explanations."""

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from app.sharing.decision import Allow, Deny, ParticipantFacts, RestrictionFacts
from tests.sharing.test_decision import (
    CALLER,
    NOW,
    PROBATION,
    consent,
    facts,
    grant,
    protocol,
    run,
)

OTHER_ORG = uuid.UUID(int=9)


def restriction(
    categories: tuple[str, ...] = ("mental_health",),
    target: str = "organisation",
    target_org_id: uuid.UUID | None = PROBATION,
    target_org_kind: str | None = None,
    objection: str = "pending",
    recorded_at: datetime = NOW - timedelta(days=1),
    lifted_at: datetime | None = None,
) -> RestrictionFacts:
    return RestrictionFacts(
        restriction_id=uuid.UUID(int=800),
        objection_id=uuid.UUID(int=801),
        categories=frozenset(categories),
        target=target,
        target_org_id=target_org_id,
        target_org_kind=target_org_kind,
        recorded_at=recorded_at,
        lifted_at=lifted_at,
        objection_status=objection,
    )


CONSENTED = facts(protocols=(protocol(),), consents=(consent(),))
PUBLIC_TASK = facts(protocols=(protocol("public_task"),))
BOTH = facts(
    protocols=(protocol(), protocol("public_task", protocol_id=uuid.UUID(int=501))),
    consents=(consent(),),
)


def with_r(f: ParticipantFacts, *rs: RestrictionFacts, **kw: object) -> ParticipantFacts:
    return replace(f, restrictions=rs, **kw)  # type: ignore[arg-type]


RESTRICTION_CASES: list[tuple[str, ParticipantFacts, dict[str, object], str]] = [
    (
        "consent protocol, restricted by org id",
        with_r(CONSENTED, restriction()),
        {},
        "restricted_by_person",
    ),
    (
        "consent protocol, restricted by org kind",
        with_r(
            CONSENTED,
            restriction(target="org_kind", target_org_id=None, target_org_kind="probation"),
        ),
        {},
        "restricted_by_person",
    ),
    (
        "consent protocol, restricted outside the lead, caller not lead",
        with_r(CONSENTED, restriction(target="outside_lead", target_org_id=None)),
        {},
        "restricted_by_person",
    ),
    (
        "consent protocol, restricted outside the lead, caller leads",
        with_r(
            CONSENTED, restriction(target="outside_lead", target_org_id=None), caller_leads=True
        ),
        {},
        "consent",
    ),
    (
        "restriction names another organisation",
        with_r(CONSENTED, restriction(target_org_id=OTHER_ORG)),
        {},
        "consent",
    ),
    (
        "restriction names another kind",
        with_r(
            CONSENTED, restriction(target="org_kind", target_org_id=None, target_org_kind="housing")
        ),
        {},
        "consent",
    ),
    (
        "restriction names another category",
        with_r(CONSENTED, restriction(("risk",))),
        {},
        "consent",
    ),
    (
        "restriction lifted",
        with_r(CONSENTED, restriction(lifted_at=NOW - timedelta(hours=1))),
        {},
        "consent",
    ),
    (
        "restriction lifted later (still in force)",
        with_r(CONSENTED, restriction(lifted_at=NOW + timedelta(hours=1))),
        {},
        "restricted_by_person",
    ),
    (
        "restriction recorded after now",
        with_r(CONSENTED, restriction(recorded_at=NOW + timedelta(minutes=1))),
        {},
        "consent",
    ),
    ("public task, objection pending", with_r(PUBLIC_TASK, restriction()), {}, "protocol"),
    (
        "public task, objection not upheld",
        with_r(PUBLIC_TASK, restriction(objection="not_upheld")),
        {},
        "protocol",
    ),
    (
        "public task, objection upheld",
        with_r(PUBLIC_TASK, restriction(objection="upheld")),
        {},
        "restricted_by_person",
    ),
    ("consent and public task, objection pending", with_r(BOTH, restriction()), {}, "protocol"),
    (
        "consent and public task, objection upheld",
        with_r(BOTH, restriction(objection="upheld")),
        {},
        "restricted_by_person",
    ),
    (
        "own record is never restricted",
        with_r(CONSENTED, restriction(objection="upheld")),
        {"source": PROBATION},
        "own_record",
    ),
    (
        "break-glass still allows (risk to life)",
        with_r(CONSENTED, restriction(objection="upheld"), grants=(grant(),)),
        {},
        "break_glass",
    ),
    (
        "no relationship stays the reason",
        with_r(facts(care_team=False), restriction()),
        {},
        "no_relationship",
    ),
    ("no protocol stays the reason", with_r(facts(), restriction()), {}, "no_protocol"),
]


@pytest.mark.parametrize(
    ("name", "f", "overrides", "expected"), RESTRICTION_CASES, ids=[c[0] for c in RESTRICTION_CASES]
)
def test_restriction_table(name: str, f: ParticipantFacts, overrides: dict, expected: str) -> None:
    decision = run(f, **overrides)  # type: ignore[arg-type]
    got = decision.basis if isinstance(decision, Allow) else decision.reason
    assert got == expected, decision.trace


def test_restriction_is_explained_in_the_trace() -> None:
    decision = run(with_r(CONSENTED, restriction()))
    assert isinstance(decision, Deny)
    assert any("restriction 00000000-0000-0000-0000-000000000320" in t for t in decision.trace)
    assert any("consent-based protocols do not apply" in t for t in decision.trace)


def test_pending_objection_is_explained_in_the_trace() -> None:
    decision = run(with_r(PUBLIC_TASK, restriction()))
    assert isinstance(decision, Allow)
    assert any("00000000-0000-0000-0000-000000000321 pending" in t for t in decision.trace)


def test_upheld_objection_is_explained_in_the_trace() -> None:
    decision = run(with_r(PUBLIC_TASK, restriction(objection="upheld")))
    assert any("objection 00000000-0000-0000-0000-000000000321 upheld" in t for t in decision.trace)


def test_restriction_does_not_touch_other_callers() -> None:
    other = replace(CALLER, org_id=OTHER_ORG, org_kind="housing")
    f = with_r(
        facts(
            protocols=(protocol(recipient_org_kind="housing"),),
            consents=(consent(recipient_org_kinds=frozenset({"housing"})),),
        ),
        restriction(),
    )
    assert run(f, caller=other).allowed


@pytest.mark.parametrize("source", [PROBATION, uuid.UUID(int=1)])
def test_closed_restricted_record_denies_even_own_records(source: uuid.UUID) -> None:
    f = facts(protocols=(protocol("public_task"),), record_closed=True)
    decision = run(f, source=source)
    assert isinstance(decision, Deny) and decision.reason == "restricted_record"


def test_restricted_record_does_not_hide_the_person_from_themself() -> None:
    me = replace(CALLER, is_participant=True, participant_id=facts().participant_id)
    assert run(facts(record_closed=True), category="plan", caller=me).allowed
