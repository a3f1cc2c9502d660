"""Restricted records over HTTP (issue 14, part 2): 404 for every organisation not named."""

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.models.audit import AccessEvent
from app.models.organisation import OrgKind, Role
from app.models.participant import CareRole
from tests.api.helpers import member, protocol
from tests.fixtures import World
from tests.route_table import ROUTES


class Rec:
    def __init__(self, client: TestClient, world: World) -> None:
        self.client, self.world = client, world
        self.coord = world.org("Coordination", OrgKind.care_coordination)
        self.cmht = world.org("CMHT", OrgKind.community_mental_health)
        self.housing = world.org("Housing", OrgKind.housing)
        self.pid = pid = client.post(
            "/api/v1/participants",
            json={"given_name": "Robin", "family_name": "Synthetic"},
            headers=world.headers(self.coord),
        ).json()["id"]
        for org in (self.cmht, self.housing):
            member(world.session, uuid.UUID(pid), org)
            protocol(world.session, source=self.coord, recipient=org, categories=["identity"])
        self.admin = world.headers(self.coord, Role.org_admin)

    def url(self, tail: str = "") -> str:
        return f"/api/v1/participants/{self.pid}{tail}"

    def put(self, headers: dict[str, str] | None = None, **body: object):
        payload = {
            "restricted": True,
            "reason": "Synthetic: safeguarding concern",
            "org_ids": [str(self.cmht.id)],
            **body,
        }
        return self.client.put(
            self.url("/restricted-record"), json=payload, headers=headers or self.admin
        )

    def listed(self, headers: dict[str, str]) -> set[str]:
        r = self.client.get("/api/v1/participants", headers=headers)
        assert r.status_code == 200, r.text
        return {p["id"] for p in r.json()["items"]}


@pytest.fixture
def rec(client: TestClient, world: World) -> Rec:
    return Rec(client, world)


def test_restricted_record_is_404_for_every_org_not_named(rec: Rec, world: World) -> None:
    housing = world.headers(rec.housing)
    assert rec.client.get(rec.url(), headers=housing).json()["given_name"] == "Robin"
    r = rec.put()
    assert r.status_code == 200, r.text
    assert set(r.json()["org_ids"]) == {str(rec.cmht.id), str(rec.coord.id)}
    for tail in ("", "/consents", "/care-team", "/restrictions", "/access"):
        assert rec.client.get(rec.url(tail), headers=housing).status_code == 404, tail
    assert rec.pid not in rec.listed(housing)
    # The named organisation, the lead and the person still see it.
    cmht = world.headers(rec.cmht)
    assert rec.client.get(rec.url(), headers=cmht).json()["given_name"] == "Robin"
    assert rec.pid in rec.listed(cmht)
    assert rec.client.get(rec.url(), headers=world.headers(rec.coord)).status_code == 200
    person = world.headers(rec.coord, Role.participant, participant_id=uuid.UUID(rec.pid))
    assert rec.client.get(rec.url(), headers=person).status_code == 200
    # Attempts are audited against the person.
    denied = world.session.exec(
        select(AccessEvent).where(
            AccessEvent.participant_id == uuid.UUID(rec.pid),
            AccessEvent.actor_org_id == rec.housing.id,
            AccessEvent.outcome == "denied",
        )
    ).all()
    assert len(denied) >= 5
    lifted = rec.put(restricted=False, reason="Synthetic: concern resolved")
    assert lifted.status_code == 200 and lifted.json()["restricted"] is False
    assert rec.client.get(rec.url(), headers=housing).status_code == 200


def test_only_the_lead_orgs_admin_restricts(rec: Rec, world: World) -> None:
    assert rec.put(world.headers(rec.coord)).status_code == 403  # no admin scope
    assert rec.put(world.headers(rec.cmht, Role.org_admin)).status_code == 403  # not the lead
    stranger = world.headers(world.org("Stranger", OrgKind.housing), Role.org_admin)
    assert rec.put(stranger).status_code == 404
    assert rec.client.get(rec.url(), headers=world.headers(rec.housing)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"org_ids": [str(uuid.UUID(int=5))]},
        {"reason": ""},
        {"restricted": "perhaps"},
        {"org_ids": ["not-a-uuid"]},
        {"set_by_org_id": str(uuid.uuid4())},
    ],
)
def test_bad_restricted_record_is_422_and_changes_nothing(
    rec: Rec, world: World, body: dict
) -> None:
    r = rec.put(**body)
    assert r.status_code == 422, r.text
    assert rec.client.get(rec.url(), headers=world.headers(rec.housing)).status_code == 200


def test_pages_of_a_list_skip_restricted_records_without_ending_early(
    rec: Rec, world: World
) -> None:
    pids = [rec.pid]
    for i in range(3):
        pid = rec.client.post(
            "/api/v1/participants",
            json={"given_name": f"More{i}", "family_name": "Synthetic"},
            headers=world.headers(rec.coord),
        ).json()["id"]
        member(world.session, uuid.UUID(pid), rec.housing)
        pids.append(pid)
    hidden = sorted(pids)[1]
    r = rec.client.put(
        f"/api/v1/participants/{hidden}/restricted-record",
        json={"restricted": True, "reason": "Synthetic: safeguarding", "org_ids": []},
        headers=rec.admin,
    )
    assert r.status_code == 200, r.text
    housing = world.headers(rec.housing)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = rec.client.get("/api/v1/participants", params=params, headers=housing).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert sorted(seen) == sorted(p for p in pids if p != hidden)


# Query parameters some of those routes require (a 422 would come before the 404).
QUERY = {"category": "identity", "instrument": "PHQ-9"}


def test_every_participant_route_is_404_for_every_org_not_named(
    client: TestClient, world: World
) -> None:
    """Every GET under the participant, for each kind of relationship left unnamed: the
    organisation that registered the person, a care-team member, and a referral's
    recipient. The lead (the setter) and the named organisation keep the record."""
    prison = world.org("Prison", OrgKind.prison_healthcare)
    coord = world.org("Coordination", OrgKind.care_coordination)
    cmht = world.org("CMHT", OrgKind.community_mental_health)
    housing = world.org("Housing", OrgKind.housing)
    peer = world.org("Peers", OrgKind.peer_support)
    pid = client.post(
        "/api/v1/participants",
        json={"given_name": "Robin", "family_name": "Synthetic"},
        headers=world.headers(prison),
    ).json()["id"]
    member(world.session, uuid.UUID(pid), coord, CareRole.lead)
    member(world.session, uuid.UUID(pid), cmht)
    member(world.session, uuid.UUID(pid), housing)
    for org in (coord, cmht, housing, peer):
        protocol(world.session, source=prison, recipient=org, categories=["identity"])
    referral = client.post(
        "/api/v1/referrals",
        json={
            "participant_id": pid,
            "to_org_id": str(peer.id),
            "reason": "Synthetic",
            "categories": ["identity"],
            "submit": True,
        },
        headers=world.headers(prison),
    )
    assert referral.status_code == 201, referral.text
    routes = [
        path.replace("{participant_id}", pid)
        for (method, path) in ROUTES
        if method == "GET"
        and path.startswith("/api/v1/participants/{participant_id}")
        and path.count("{") == 1
    ]
    assert len(routes) >= 20
    unnamed = {"registrar": prison, "care-team member": housing, "referral recipient": peer}
    for who, org in unnamed.items():
        r = client.get(f"/api/v1/participants/{pid}", headers=world.headers(org))
        assert r.status_code == 200, (who, r.text)  # before: each may know the person
    admin = world.headers(coord, Role.org_admin)
    flag = client.put(
        f"/api/v1/participants/{pid}/restricted-record",
        json={"restricted": True, "reason": "Synthetic: safeguarding", "org_ids": [str(cmht.id)]},
        headers=admin,
    )
    assert flag.status_code == 200, flag.text
    for who, org in unnamed.items():
        for role in (Role.practitioner, Role.org_admin):
            headers = world.headers(org, role)
            for url in routes:
                got = client.get(url, headers=headers, params=QUERY)
                assert got.status_code == 404, (who, role, url, got.status_code)
            listed = client.get("/api/v1/participants", headers=headers).json()["items"]
            assert pid not in {p["id"] for p in listed}, who
    for org in (coord, cmht):
        got = client.get(f"/api/v1/participants/{pid}", headers=world.headers(org))
        assert got.status_code == 200, org.name
