"""Property: for random small worlds, every read agrees with an independent oracle.

Each hypothesis example builds its own world (fresh organisations, one or two
participants, care-team memberships in several states, protocols, consents, referrals,
break-glass grants, the person's restrictions and their objections' outcomes) inside
its own rolled-back transaction, then reads every participant
as every organisation (and as the participant) and checks:

(a) existence: 404 vs 200, and presence in the list;
(b) no field of a category the oracle denies is present, and every set field of a
    category it allows is present with the stored value;
(c) every denied category is in `withheld`;
(d) audit: each 200 has AccessEvent rows of that request whose categories are exactly
    those disclosed, and each 404 an AccessEvent with outcome "denied";
(e) GET …/care-team shows the (plan) memberships exactly when the oracle allows plan;
(f) GET …/access?source_org_id= agrees with the oracle for all eleven categories, for
    records of every organisation in the world as source.

ORACLE_EXAMPLES=200 runs more examples; ORACLE_SHRINK=1 shrinks a failure.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from app.main import app
from app.models.organisation import OrgKind
from app.sharing.categories import Category, Purpose
from tests.fixtures import World
from tests.sharing.harness import (
    OPTIONAL_FIELDS,
    Built,
    add_consent,
    add_membership,
    add_protocol,
    add_referral,
    break_glass,
    check_care_team,
    check_explanation,
    end_lead_membership,
    read_list,
    read_one,
    register,
    rolled_back,
    utc_now,
)
from tests.sharing.harness_governance import RESTRICTION_STATES, add_restriction
from tests.sharing.oracle import (
    decide_participant,
    decide_participant_self,
    relationship,
)

KINDS = [str(k) for k in OrgKind]
CATEGORIES = [str(c) for c in Category]
RECORD_CATEGORIES = ["identity", "contact", "protected_characteristics", "custody", "plan"]
PURPOSES = [str(p) for p in Purpose]
MEMBERSHIP_MODES = ["api", "api_ended", "active", "ended", "ending_later", "not_started"]
REFERRAL_STATUSES = [
    "draft",
    "submitted",
    "accepted",
    "declined",
    "in_progress",
    "completed",
    "withdrawn",
]
CONSENT_STATES = ["active", "expiring", "expired", "withdrawn", "api", "api_withdrawn"]
BASES = ["consent", "consent", "public_task", "legal_obligation", "vital_interests"]
# (effective_from offset, effective_to offset or None) in days from today.
WINDOWS = [(-30, None), (-30, 30), (-400, None), (-60, -5), (5, None)]

categories_st = st.sets(
    st.one_of(st.sampled_from(RECORD_CATEGORIES), st.sampled_from(CATEGORIES)),
    min_size=1,
    max_size=5,
)
purposes_st = st.sets(
    st.one_of(st.just("direct_care"), st.sampled_from(PURPOSES)), min_size=1, max_size=3
)


@dataclass
class ParticipantSpec:
    registrar: int
    fields: set[str]
    lead_ended: bool
    memberships: list[tuple[int, str]]
    referrals: list[tuple[int, int, str, set[str]]]
    consents: list[tuple[set[str], set[int], set[str], set[str], str]]
    self_org: int
    restrictions: list[tuple[set[str], tuple[str, Any], str, bool]] = field(default_factory=list)


@dataclass
class ProtocolSpec:
    source: tuple[str, Any]
    recipient: tuple[str, Any]
    categories: set[str]
    purposes: set[str]
    basis: str
    window: tuple[int, int | None]
    superseded_by: set[str] | None


@dataclass
class WorldSpec:
    kinds: list[str]
    participants: list[ParticipantSpec]
    protocols: list[ProtocolSpec]
    reads: list[str | None]
    grants: list[tuple[int, int, set[str], bool]]


@st.composite
def worlds(draw: st.DrawFn) -> WorldSpec:
    n = draw(st.integers(2, 4))
    # Few distinct kinds, so kind-addressed protocols and consents often match.
    kind_pool = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True))
    kinds = [draw(st.sampled_from(kind_pool)) for _ in range(n)]
    org_i = st.integers(0, n - 1)
    kind_st = st.one_of(st.sampled_from(kinds), st.sampled_from(KINDS))
    party = st.one_of(st.tuples(st.just("id"), org_i), st.tuples(st.just("kind"), kind_st))

    def recipients(c: tuple[set[str], set[int], set[str], set[str], str]) -> Any:
        # A consent names at least one recipient organisation or kind.
        return c if c[1] or c[2] else (c[0], {0}, c[2], c[3], c[4])

    participants = []
    for _ in range(draw(st.integers(1, 2))):
        registrar = draw(org_i)
        others = [i for i in range(n) if i != registrar]
        participants.append(
            ParticipantSpec(
                registrar=registrar,
                fields=draw(st.sets(st.sampled_from(OPTIONAL_FIELDS), max_size=10)),
                lead_ended=draw(st.integers(0, 9)) == 0,
                memberships=draw(
                    st.lists(
                        st.tuples(st.sampled_from(others), st.sampled_from(MEMBERSHIP_MODES)),
                        max_size=3,
                    )
                ),
                referrals=draw(
                    st.lists(
                        st.tuples(
                            st.one_of(st.just(registrar), org_i),
                            org_i,
                            st.sampled_from(REFERRAL_STATUSES),
                            categories_st,
                        ),
                        max_size=2,
                    )
                ),
                consents=draw(
                    st.lists(
                        st.tuples(
                            categories_st,
                            st.sets(org_i, max_size=2),
                            st.sets(kind_st, max_size=2),
                            purposes_st,
                            st.sampled_from(CONSENT_STATES),
                        ).map(recipients),
                        max_size=3,
                    )
                ),
                self_org=draw(org_i),
                restrictions=draw(
                    st.lists(
                        st.tuples(
                            categories_st,
                            st.one_of(
                                st.tuples(st.just("org"), org_i),
                                st.tuples(st.just("kind"), kind_st),
                                st.tuples(st.just("outside_lead"), st.none()),
                            ),
                            st.sampled_from(RESTRICTION_STATES),
                            st.booleans(),
                        ),
                        max_size=2,
                    )
                ),
            )
        )
    # Protocols mostly from a registrar to an organisation with some relationship (so
    # they can apply), by id or by kind; some entirely random.
    registrars = [p.registrar for p in participants]
    related = sorted(
        {o for p in participants for o, _ in p.memberships}
        | {r[1] for p in participants for r in p.referrals}
    ) or list(range(n))
    source_st = st.one_of(
        st.tuples(st.just("id"), st.sampled_from(registrars)),
        st.tuples(st.just("kind"), st.sampled_from([kinds[r] for r in registrars])),
        party,
    )
    recipient_st = st.one_of(
        st.tuples(st.just("id"), st.sampled_from(related)),
        st.tuples(st.just("kind"), st.sampled_from([kinds[r] for r in related])),
        party,
    )
    protocols = draw(
        st.lists(
            st.builds(
                ProtocolSpec,
                source=source_st,
                recipient=recipient_st,
                categories=categories_st,
                purposes=purposes_st,
                basis=st.sampled_from(BASES),
                window=st.one_of(st.sampled_from(WINDOWS[:3]), st.sampled_from(WINDOWS)),
                superseded_by=st.one_of(st.none(), st.none(), categories_st),
            ),
            min_size=1,
            max_size=5,
        )
    )
    reads = [draw(st.one_of(st.none(), st.none(), st.sampled_from(PURPOSES))) for _ in range(n)]
    grants = draw(
        st.lists(
            st.tuples(
                org_i,
                st.integers(0, len(participants) - 1),
                categories_st,
                st.booleans(),
            ),
            max_size=2,
        )
    )
    return WorldSpec(kinds, participants, protocols, reads, grants)


def build(client: TestClient, built: Built, spec: WorldSpec) -> None:
    for i, kind in enumerate(spec.kinds):
        built.add_org(f"O{i}", kind)
    today = date.today()
    for ps in spec.protocols:
        source = (
            ps.source[0],
            built.facts[ps.source[1]].id if ps.source[0] == "id" else ps.source[1],
        )
        recipient = (
            ps.recipient[0],
            built.facts[ps.recipient[1]].id if ps.recipient[0] == "id" else ps.recipient[1],
        )
        frm = today + timedelta(days=ps.window[0])
        to = None if ps.window[1] is None else today + timedelta(days=ps.window[1])
        first = add_protocol(
            built,
            source,
            recipient,
            ps.categories,
            ps.purposes,
            ps.basis,
            frm,
            to,
            is_current=ps.superseded_by is None,
        )
        if ps.superseded_by is not None:
            # A newer version replaces the first: only its categories apply now.
            add_protocol(
                built,
                source,
                recipient,
                ps.superseded_by,
                ps.purposes,
                ps.basis,
                frm,
                to,
                version=2,
                protocol_id=first.protocol_id,
            )
    for index, pspec in enumerate(spec.participants):
        p = register(client, built, pspec.registrar, index, pspec.fields)
        for org_index, mode in pspec.memberships:
            if org_index != pspec.registrar:
                add_membership(client, built, p, org_index, mode)
        for frm_i, to_i, status, cats in pspec.referrals:
            add_referral(built, p, frm_i, to_i, status, cats)
        for cats, ids, kinds, purposes, state in pspec.consents:
            add_consent(client, built, p, cats, ids, kinds, purposes, state)
        if pspec.lead_ended:
            end_lead_membership(built, p)
        for cats, target, state, by_person in pspec.restrictions:
            add_restriction(client, built, p, cats, target, state, by_person)
    for org_index, p_index, cats, expire in spec.grants:
        p = built.participants[p_index]
        actor = built.actors[org_index]
        related, _ = relationship(p, actor.org, utc_now())
        if actor.org.id == p.source.id or not related:
            continue
        status = break_glass(client, built, p, actor, cats, expire)
        assert status == 201, (
            f"break-glass refused ({status}) for a related org\n{built.describe()}"
        )


def check(client: TestClient, built: Built, spec: WorldSpec) -> list[str]:
    problems: list[str] = []
    for i, actor in enumerate(built.actors):
        purpose = spec.reads[i]
        verdicts = {}
        for p in built.participants:
            v = decide_participant(
                p, actor.org, purpose or "direct_care", utc_now(), built.protocols, actor.subject
            )
            verdicts[p.id] = v
            if actor.org.id != p.source.id:
                event("other org: exists" if v.exists else "other org: 404")
                for basis in set(v.allowed.values()):
                    event(f"other org allowed by {basis}")
            found, _ = read_one(
                client, built.session, actor.headers, actor.org, p, v, purpose, actor.org.name
            )
            problems += [f"{x}\n    oracle: {v.trace}" for x in found]
            problems += check_care_team(
                client, built.session, actor.headers, actor.org, p, v, purpose, actor.org.name
            )
            if v.exists:
                # The explanation endpoint, for records of every organisation as source.
                for source in built.facts:
                    problems += check_explanation(
                        client,
                        actor.headers,
                        actor.org,
                        p,
                        source,
                        purpose,
                        built.protocols,
                        actor.subject,
                        actor.org.name,
                    )
        problems += read_list(
            client,
            built.session,
            actor.headers,
            actor.org,
            built.participants,
            verdicts,
            purpose,
            actor.org.name,
        )
    # The participant, with a participant token: own record only.
    for pspec, p in zip(spec.participants, built.participants, strict=True):
        headers = built.participant_headers(pspec.self_org, p.id)
        org = built.facts[pspec.self_org]
        label = f"participant-token P={p.values['given_name']} (user of {org.name})"
        verdicts = {}
        for q in built.participants:
            v = decide_participant_self(q, p.id)
            verdicts[q.id] = v
            found, _ = read_one(client, built.session, headers, org, q, v, None, label)
            problems += found
        problems += read_list(
            client, built.session, headers, org, built.participants, verdicts, None, label
        )
    return problems


@pytest.fixture(scope="module")
def api() -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# Shrinking re-builds whole worlds and can take minutes; the failure message already
# prints the world. Set ORACLE_SHRINK=1 to shrink a failure to a minimal world.
PHASES = (
    list(Phase)
    if os.environ.get("ORACLE_SHRINK")
    else [
        Phase.explicit,
        Phase.reuse,
        Phase.generate,
    ]
)


@settings(
    max_examples=int(os.environ.get("ORACLE_EXAMPLES", "25")),
    deadline=None,
    phases=PHASES,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(spec=worlds())
def test_reads_agree_with_the_oracle(api: TestClient, spec: WorldSpec) -> None:
    with rolled_back() as session:
        built = Built(session=session, world=World(session))
        build(api, built, spec)
        problems = check(api, built, spec)
        assert not problems, built.describe() + "\nPROBLEMS:\n" + "\n".join(problems)
