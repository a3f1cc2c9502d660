"""Statistics for commissioners (issue 14, part 4): hand-counted worlds, suppression."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session

from app.core.settings import get_settings
from app.models.break_glass import BreakGlassGrant, BreakGlassReason, ReviewOutcome
from app.models.organisation import OrgKind, Role
from app.models.referral import Referral, ReferralStatus, Urgency
from app.models.sharing import Consent, ConsentMethod
from app.services.statistics import Scope, statistics, suppress
from tests.api.helpers import member, protocol
from tests.fixtures import World

NOW = datetime.now(UTC)
TODAY = NOW.date()


def raw(table: dict) -> dict[str, int | None]:
    return {"total": table["total"]["value"]} | {k: v["value"] for k, v in table["parts"].items()}


class Counted:
    """A world whose figures were counted by hand (comments give the counts)."""

    def __init__(self, client: TestClient, world: World) -> None:
        s = world.session
        self.coord = world.org("Coordination", OrgKind.care_coordination)
        self.cmht = world.org("CMHT", OrgKind.community_mental_health)
        self.other = world.org("Other CMHT", OrgKind.community_mental_health)
        self.prison = world.org("Prison", OrgKind.prison_healthcare)
        # P0 registered by the coordination service, P1 by prison healthcare.
        pids = [
            uuid.UUID(
                client.post(
                    "/api/v1/participants",
                    json={"given_name": f"P{i}", "family_name": "Synthetic"},
                    headers=world.headers(org),
                ).json()["id"]
            )
            for i, org in enumerate((self.coord, self.prison))
        ]
        self.pids = pids
        # Referrals to the CMHT submitted today: 3 accepted + 2 in progress + 1 completed
        # (6 accepted), 7 declined, 1 withdrawn, 0 awaiting. Not counted: a draft, one
        # submitted 40 days ago, and one to the other CMHT (counted only without filter).
        statuses = (
            [ReferralStatus.accepted] * 3
            + [ReferralStatus.in_progress] * 2
            + [ReferralStatus.completed]
            + [ReferralStatus.declined] * 7
            + [ReferralStatus.withdrawn]
        )
        for status in statuses:
            s.add(self.referral(pids[0], self.cmht.id, status, NOW))
        s.add(self.referral(pids[0], self.cmht.id, ReferralStatus.draft, None))
        s.add(self.referral(pids[0], self.cmht.id, ReferralStatus.accepted, NOW - timedelta(40)))
        s.add(self.referral(pids[0], self.other.id, ReferralStatus.submitted, NOW))
        # Break-glass by the CMHT today: 5 justified, 0 not justified, 6 awaiting review.
        for outcome in [ReviewOutcome.justified] * 5 + [None] * 6:
            s.add(
                BreakGlassGrant(
                    participant_id=pids[0],
                    actor="user:synthetic",
                    actor_org_id=self.cmht.id,
                    reason_code=next(iter(BreakGlassReason)),
                    justification="Synthetic emergency for a hand-counted world.",
                    categories=["risk"],
                    granted_at=NOW,
                    expires_at=NOW + timedelta(minutes=30),
                    review_outcome=outcome,
                )
            )
        # Consents recorded by the coordination service: 2 withdrawn today, 1 active.
        for withdrawn in (NOW, NOW, None):
            s.add(
                Consent(
                    participant_id=pids[1],
                    source_org_id=self.coord.id,
                    categories=["identity"],
                    recipient_org_ids=[],
                    recipient_org_kinds=["community_mental_health"],
                    purposes=["direct_care"],
                    method=ConsentMethod.verbal,
                    recorded_by="test",
                    given_at=NOW - timedelta(days=3),
                    withdrawn_at=withdrawn,
                )
            )
        s.commit()
        # Disclosures to the CMHT: 6 reads of P1 under a public-task protocol, and 5 of P2
        # with consent (the third consent above is active).
        member(s, pids[0], self.cmht)
        member(s, pids[1], self.cmht)
        protocol(s, source=self.coord, recipient=self.cmht, categories=["identity"])
        cmht = world.headers(self.cmht)
        for _ in range(6):
            assert client.get(f"/api/v1/participants/{pids[0]}", headers=cmht).status_code == 200
        protocol(
            s,
            source=self.prison,
            recipient="community_mental_health",
            categories=["identity"],
            basis="consent",
        )
        for _ in range(5):
            r = client.get(f"/api/v1/participants/{pids[1]}", headers=cmht)
            assert r.json().get("given_name") == "P1", r.text

    def referral(
        self, pid: uuid.UUID, to: uuid.UUID, status: ReferralStatus, at: datetime | None
    ) -> Referral:
        return Referral(
            participant_id=pid,
            from_org_id=self.coord.id,
            to_org_id=to,
            reason="Synthetic",
            urgency=next(iter(Urgency)),
            categories=["identity"],
            status=status,
            created_by="test",
            submitted_at=at,
        )


@pytest.fixture
def counted(client: TestClient, world: World) -> Counted:
    return Counted(client, world)


def test_raw_counts_match_the_hand_counts(counted: Counted, db: Session) -> None:
    scope = Scope(TODAY, TODAY, counted.cmht.id)
    got = statistics(db, scope, threshold=0)  # nothing suppressed: the raw SQL counts
    assert raw(got["referrals"]) == {
        "total": 14,
        "accepted": 6,
        "declined": 7,
        "withdrawn": 1,
        "awaiting_response": 0,
    }
    assert raw(got["break_glass"]) == {
        "total": 11,
        "justified": 5,
        "not_justified": 0,
        "awaiting_review": 6,
    }
    assert raw(got["disclosures"]) == {
        "total": 11,
        "consent": 5,
        "public_task": 6,
        "legal_obligation": 0,
        "vital_interests": 0,
        "break_glass": 0,
    }
    by_kind = statistics(db, Scope(TODAY, TODAY, org_kind="community_mental_health"), 0)
    assert raw(by_kind["referrals"])["awaiting_response"] == 1  # the other CMHT's
    coord = statistics(db, Scope(TODAY, TODAY, counted.coord.id), 0)
    assert raw(coord["withdrawn_consents"]) == {"total": 2}
    month = statistics(db, Scope(TODAY - timedelta(45), TODAY, counted.cmht.id), 0)
    assert raw(month["referrals"])["accepted"] == 7


def test_api_suppresses_small_and_derivable_counts(
    counted: Counted, client: TestClient, world: World
) -> None:
    commissioner = world.headers(world.org("ICB", OrgKind.voluntary), Role.commissioner)
    params = {"from": str(TODAY), "to": str(TODAY), "org_id": str(counted.cmht.id)}
    r = client.get("/api/v1/statistics", params=params, headers=commissioner)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["suppression_threshold"] == 5 and body["from"] == str(TODAY)
    # withdrawn 1 and awaiting 0 are under 5; together 1, so accepted (6) goes too.
    assert raw(body["referrals"]) == {
        "total": 14,
        "accepted": None,
        "declined": 7,
        "withdrawn": None,
        "awaiting_response": None,
    }
    # not_justified 0 alone could be derived: justified (5) is hidden with it.
    assert raw(body["break_glass"]) == {
        "total": 11,
        "justified": None,
        "not_justified": None,
        "awaiting_review": 6,
    }
    # consent 5 alone is not under 5, but legal obligation, vital interests and
    # break-glass are (0 each, together 0), so the smallest shown part (consent) goes.
    assert raw(body["disclosures"]) == {
        "total": 11,
        "consent": None,
        "public_task": 6,
        "legal_obligation": None,
        "vital_interests": None,
        "break_glass": None,
    }
    coord = client.get(
        "/api/v1/statistics",
        params={**params, "org_id": str(counted.coord.id)},
        headers=commissioner,
    ).json()
    assert coord["withdrawn_consents"]["total"] == {"value": None, "suppressed": True}
    text = r.text
    for small in ('"value":0', '"value":1,', '"value":2,', '"value":3,', '"value":4,'):
        assert small not in text.replace(" ", "")


def test_threshold_is_a_setting(
    counted: Counted, client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THROUGHCARE_STATISTICS_SUPPRESSION_THRESHOLD", "8")
    get_settings.cache_clear()
    try:
        commissioner = world.headers(world.org("ICB", OrgKind.voluntary), Role.commissioner)
        params = {"from": str(TODAY), "to": str(TODAY), "org_id": str(counted.cmht.id)}
        body = client.get("/api/v1/statistics", params=params, headers=commissioner).json()
    finally:
        monkeypatch.delenv("THROUGHCARE_STATISTICS_SUPPRESSION_THRESHOLD")
        get_settings.cache_clear()
    assert body["suppression_threshold"] == 8
    assert body["referrals"]["parts"]["declined"] == {"value": None, "suppressed": True}


def test_who_may_read_statistics(client: TestClient, world: World) -> None:
    params = {"from": str(TODAY), "to": str(TODAY)}
    assert client.get("/api/v1/statistics", params=params).status_code == 401
    org = world.org("ICB", OrgKind.voluntary)
    for role in (Role.practitioner, Role.org_admin, Role.governance_lead):
        r = client.get("/api/v1/statistics", params=params, headers=world.headers(org, role))
        assert r.status_code == 403, role
    client_headers = world.client_headers(org, ["statistics:read"])
    assert (
        client.get("/api/v1/statistics", params=params, headers=client_headers).status_code == 200
    )


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2000-01-01", "to": "2026-01-01"},
        {"from": "yesterday", "to": "2026-01-01"},
        {"to": "2026-01-01"},
        {"from": "2026-01-01", "to": "2026-01-02", "org_kind": "nonsense"},
        {
            "from": "2026-01-01",
            "to": "2026-01-02",
            "org_kind": "housing",
            "org_id": str(uuid.uuid4()),
        },
    ],
)
def test_bad_statistics_query_is_422(client: TestClient, world: World, params: dict) -> None:
    headers = world.headers(world.org("ICB", OrgKind.voluntary), Role.commissioner)
    r = client.get("/api/v1/statistics", params=params, headers=headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


@given(
    parts=st.dictionaries(st.sampled_from("abcdef"), st.integers(0, 30), min_size=1),
    threshold=st.integers(1, 10),
)
def test_suppression_never_shows_or_lets_derive_a_small_count(
    parts: dict[str, int], threshold: int
) -> None:
    total = sum(parts.values())
    out = suppress(total, parts, threshold)
    shown = {k: v["value"] for k, v in out["parts"].items() if not v["suppressed"]}
    assert all(v >= threshold for v in shown.values())
    hidden = [parts[k] for k in parts if k not in shown]
    if out["total"]["suppressed"]:
        assert total < threshold or len(hidden) == len(parts)
    else:
        assert out["total"]["value"] == total >= threshold
        if hidden:  # total minus shown gives only the sum of at least two hidden counts
            assert len(hidden) >= 2 and sum(hidden) >= threshold
