"""The person's restrictions and objections over HTTP (issue 14, part 1)."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.audit import AccessEvent
from app.models.organisation import OrgKind, Role
from tests.api.helpers import member, protocol
from tests.fixtures import World


class Gov:
    """A lead (coordination) and a CMHT and housing in the care team, one participant."""

    def __init__(self, client: TestClient, world: World) -> None:
        self.client, self.world = client, world
        self.coord = world.org("Coordination", OrgKind.care_coordination)
        self.cmht = world.org("CMHT", OrgKind.community_mental_health)
        self.housing = world.org("Housing", OrgKind.housing)
        self.lead_headers = world.headers(self.coord)
        self.pid = pid = client.post(
            "/api/v1/participants",
            json={"given_name": "Riley", "family_name": "Synthetic", "phone": "07700 900555"},
            headers=self.lead_headers,
        ).json()["id"]
        member(world.session, uuid.UUID(self.pid), self.cmht)
        member(world.session, uuid.UUID(self.pid), self.housing)
        for org in (self.cmht, self.housing):
            protocol(
                world.session,
                source="care_coordination",
                recipient=org,
                categories=["identity", "contact"],
                basis="consent",
                name="Continuity",
            )
        consent = client.post(
            self.url("/consents"),
            json={
                "categories": ["identity", "contact"],
                "recipient_org_ids": [str(self.cmht.id), str(self.housing.id)],
                "purposes": ["direct_care"],
                "method": "verbal",
            },
            headers=self.lead_headers,
        )
        assert consent.status_code == 201, consent.text
        self.person = world.headers(self.coord, Role.participant, participant_id=uuid.UUID(pid))

    def url(self, tail: str = "") -> str:
        return f"/api/v1/participants/{self.pid}{tail}"

    def restrict(self, headers: dict[str, str] | None = None, **body: object) -> dict:
        payload = {
            "categories": ["contact"],
            "target": "organisation",
            "target_org_id": str(self.cmht.id),
            "reason": "Synthetic: I do not want the CMHT to phone me",
            **body,
        }
        r = self.client.post(
            self.url("/restrictions"), json=payload, headers=headers or self.lead_headers
        )
        assert r.status_code == 201, r.text
        return r.json()

    def decide(self, objection_id: str, outcome: str, headers: dict[str, str] | None = None):
        return self.client.post(
            f"/api/v1/objections/{objection_id}/decide",
            json={"outcome": outcome, "reason": "Synthetic: weighed the risk to others"},
            headers=headers or self.world.headers(self.coord, Role.governance_lead),
        )

    def log_texts(self) -> list[str]:
        r = self.client.get(self.url("/disclosures"), headers=self.person)
        assert r.status_code == 200, r.text
        return [e["text"] for e in r.json()["items"]]


@pytest.fixture
def g(client: TestClient, world: World) -> Gov:
    return Gov(client, world)


def withheld(body: dict) -> dict[str, str]:
    return {w["category"]: w["reason"] for w in body.get("withheld", [])}


def test_restriction_hides_category_from_named_org_on_the_next_request(g: Gov) -> None:
    cmht = g.world.headers(g.cmht)
    assert g.client.get(g.url(), headers=cmht).json()["phone"] == "07700 900555"
    made = g.restrict()
    assert made["status"] == "active" and made["objection_status"] == "pending"
    body = g.client.get(g.url(), headers=cmht).json()
    assert "phone" not in body and withheld(body)["contact"] == "restricted_by_person"
    assert body["given_name"] == "Riley"  # identity is not restricted
    # Housing, also covered by the consent, is not named: it still sees the phone.
    assert g.client.get(g.url(), headers=g.world.headers(g.housing)).json()["phone"]
    access = g.client.get(g.url("/access"), params={"category": "contact"}, headers=cmht)
    decision = access.json()["decisions"][0]
    assert decision["allowed"] is False and decision["reason"] == "restricted_by_person"
    assert any(made["id"] in t for t in decision["trace"])
    lifted = g.client.post(
        g.url(f"/restrictions/{made['id']}/lift"),
        json={"reason": "Synthetic: happy to be phoned now"},
        headers=g.person,
    )
    assert lifted.status_code == 200 and lifted.json()["status"] == "lifted"
    assert g.client.get(g.url(), headers=cmht).json()["phone"] == "07700 900555"
    again = g.client.post(
        g.url(f"/restrictions/{made['id']}/lift"), json={"reason": "again"}, headers=g.person
    )
    assert again.status_code == 409


def test_restriction_by_kind_and_outside_lead(g: Gov) -> None:
    g.restrict(target="org_kind", target_org_id=None, target_org_kind="housing")
    assert "phone" not in g.client.get(g.url(), headers=g.world.headers(g.housing)).json()
    assert g.client.get(g.url(), headers=g.world.headers(g.cmht)).json()["phone"]
    g.restrict(target="outside_lead", target_org_id=None, categories=["identity"])
    body = g.client.get(g.url(), headers=g.world.headers(g.cmht)).json()
    assert "given_name" not in body and withheld(body)["identity"] == "restricted_by_person"
    assert g.client.get(g.url(), headers=g.lead_headers).json()["given_name"] == "Riley"


def test_objection_pending_until_decided_then_upheld_overrides_public_task(g: Gov) -> None:
    probation = g.world.org("Probation", OrgKind.probation)
    member(g.world.session, uuid.UUID(g.pid), probation)
    protocol(
        g.world.session,
        source="care_coordination",
        recipient="probation",
        categories=["contact"],
        basis="public_task",
        name="Offender management",
    )
    officer = g.world.headers(probation)
    made = g.restrict(target_org_id=str(probation.id), headers=g.person)
    # Pending: the public-task agreement still applies, and says why.
    assert g.client.get(g.url(), headers=officer).json()["phone"] == "07700 900555"
    trace = g.client.get(g.url("/access"), params={"category": "contact"}, headers=officer)
    assert any(
        f"{made['objection_id']} pending" in t for t in trace.json()["decisions"][0]["trace"]
    )
    decided = g.decide(made["objection_id"], "upheld")
    assert decided.status_code == 200, decided.text
    assert decided.json()["objection_status"] == "upheld"
    body = g.client.get(g.url(), headers=officer).json()
    assert "phone" not in body and withheld(body)["contact"] == "restricted_by_person"
    texts = g.log_texts()
    assert any("upheld your objection" in t and "weighed the risk to others" in t for t in texts), (
        texts
    )
    assert any("recorded your restriction" in t and probation.name in t for t in texts)
    assert g.decide(made["objection_id"], "not_upheld").status_code == 409


def test_objection_not_upheld_keeps_sharing_and_tells_the_person(g: Gov) -> None:
    protocol(
        g.world.session,
        source="care_coordination",
        recipient=g.cmht,
        categories=["contact"],
        basis="legal_obligation",
        name="Safeguarding duty",
    )
    made = g.restrict()
    decided = g.decide(made["objection_id"], "not_upheld")
    assert decided.status_code == 200, decided.text
    assert g.client.get(g.url(), headers=g.world.headers(g.cmht)).json()["phone"]
    listed = g.client.get(g.url("/restrictions"), headers=g.person).json()
    assert listed[0]["objection_status"] == "not_upheld"
    assert listed[0]["objection_reason"] == "Synthetic: weighed the risk to others"
    assert any("did not uphold your objection" in t for t in g.log_texts())


def test_only_the_lead_orgs_governance_lead_decides(g: Gov, world: World) -> None:
    made = g.restrict()
    practitioner = g.decide(made["objection_id"], "upheld", world.headers(g.coord))
    assert practitioner.status_code == 403  # no governance:decide scope
    admin = g.decide(made["objection_id"], "upheld", world.headers(g.coord, Role.org_admin))
    assert admin.status_code == 403
    other = g.decide(made["objection_id"], "upheld", world.headers(g.cmht, Role.governance_lead))
    assert other.status_code == 403
    denied = world.session.exec(
        select(AccessEvent).where(
            AccessEvent.resource == "objection", AccessEvent.outcome == "denied"
        )
    ).all()
    # The two without the scope stop at the token check; the CMHT's lead is refused by rule.
    assert [e.withheld[0]["reason"] for e in denied] == ["not_governance_lead"]
    stranger = world.org("Stranger", OrgKind.housing)
    hidden = g.decide(made["objection_id"], "upheld", world.headers(stranger, Role.governance_lead))
    assert hidden.status_code == 404
    assert g.decide(str(uuid.uuid4()), "upheld").status_code == 404
    listed = g.client.get(g.url("/restrictions"), headers=g.lead_headers).json()
    assert listed[0]["objection_status"] == "pending"


def test_who_may_record_and_see_restrictions(g: Gov, world: World, client: TestClient) -> None:
    assert client.get(g.url("/restrictions")).status_code == 401
    mine = g.restrict(headers=g.person)
    assert mine["recorded_by"].startswith("user:")
    other_pid = client.post(
        "/api/v1/participants",
        json={"given_name": "Other", "family_name": "Synthetic"},
        headers=g.lead_headers,
    ).json()["id"]
    someone_else = world.headers(g.coord, Role.participant, participant_id=uuid.UUID(other_pid))
    r = client.post(
        g.url("/restrictions"),
        json={"categories": ["contact"], "target": "outside_lead"},
        headers=someone_else,
    )
    assert r.status_code == 404
    stranger = world.headers(world.org("Stranger", OrgKind.housing))
    assert client.get(g.url("/restrictions"), headers=stranger).status_code == 404
    # The reason is the person's words: their recorder and they see it, the CMHT not.
    seen_by_cmht = client.get(g.url("/restrictions"), headers=world.headers(g.cmht)).json()
    assert seen_by_cmht[0]["reason"] is None
    assert client.get(g.url("/restrictions"), headers=g.person).json()[0]["reason"]


@pytest.mark.parametrize(
    "body",
    [
        {"categories": ["contact"], "target": "organisation"},
        {"categories": ["contact"], "target": "org_kind"},
        {"categories": [], "target": "outside_lead"},
        {"categories": ["nonsense"], "target": "outside_lead"},
        {"categories": ["contact"], "target": "outside_lead", "target_org_kind": "housing"},
        {
            "categories": ["contact"],
            "target": "organisation",
            "target_org_id": str(uuid.UUID(int=7)),
        },
        {"categories": ["contact"], "target": "outside_lead", "source_org_id": str(uuid.uuid4())},
    ],
)
def test_bad_restriction_is_422_and_changes_nothing(g: Gov, body: dict) -> None:
    r = g.client.post(g.url("/restrictions"), json=body, headers=g.lead_headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert g.client.get(g.url("/restrictions"), headers=g.lead_headers).json() == []


def test_decision_outcome_must_be_decided(g: Gov) -> None:
    made = g.restrict()
    assert g.decide(made["objection_id"], "pending").status_code == 422


def test_restriction_refuses_a_referral_attaching_the_category(
    client: TestClient, world: World, db: Session
) -> None:
    from tests.api.referral_world import URL, add_consent, make_referral_world

    rw = make_referral_world(world, db, client)
    add_consent(db, rw.participant, ["contact"], rw.housing)
    body = rw.body(categories=["identity", "contact"], submit=True)
    restricted = client.post(
        f"/api/v1/participants/{rw.participant.id}/restrictions",
        json={"categories": ["contact"], "target": "org_kind", "target_org_kind": "housing"},
        headers=rw.referrer(),
    )
    assert restricted.status_code == 201, restricted.text
    res = client.post(URL, json=body, headers=rw.referrer())
    assert res.status_code == 422, res.text
    assert res.json()["errors"] == [{"category": "contact", "reason": "restricted_by_person"}]
    client.post(
        f"/api/v1/participants/{rw.participant.id}/restrictions/{restricted.json()['id']}/lift",
        json={"reason": "Synthetic: agreed with the person"},
        headers=rw.referrer(),
    )
    assert client.post(URL, json=body, headers=rw.referrer()).status_code == 201
