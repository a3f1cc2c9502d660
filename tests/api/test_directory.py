"""The service directory: search, weekend gaps, staleness, edit rights, HSDS export."""

import uuid
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.models.base import utcnow
from app.models.directory import Service
from app.models.organisation import OrgKind, Role
from tests.fixtures import World

URL = "/api/v1/services"
WEEKDAYS = [
    {"weekday": d, "opens": "09:00", "closes": "17:00"}
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
]


def _body(**extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Tenancy sustainment",
        "description": "Help to find and keep a tenancy after release.",
        "setting": "community",
        "categories": ["housing"],
        "eligibility": "Adults leaving custody to Northtown.",
        "exclusions": ["Under 18"],
        "criminal_record_exclusions": ["Arson in the last 5 years"],
        "opening_hours": WEEKDAYS,
        "phone": "01632 960000",
        "how_to_refer": "Through Throughcare, or by phone.",
        "accepts_throughcare_referrals": True,
    }
    body.update(extra)
    return body


def _create(client: TestClient, world: World, **extra: Any) -> dict[str, Any]:
    org = world.orgs.get("Housing") or world.org("Housing", OrgKind.housing)
    res = client.post(URL, json=_body(**extra), headers=world.headers(org, Role.org_admin))
    assert res.status_code == 201, res.text
    return dict(res.json())


class TestCreateService:
    def test_anonymous_401(self, client: TestClient) -> None:
        assert client.post(URL, json=_body()).status_code == 401

    def test_practitioner_lacks_scope_403(self, client: TestClient, world: World) -> None:
        org = world.org("Housing", OrgKind.housing)
        res = client.post(URL, json=_body(), headers=world.headers(org))
        assert res.status_code == 403
        assert res.headers["content-type"] == "application/problem+json"

    def test_org_admin_of_another_provider_403(self, client: TestClient, world: World) -> None:
        mine = world.org("Housing", OrgKind.housing)
        other = world.org("Peer", OrgKind.peer_support)
        res = client.post(
            URL,
            json=_body(provider_org_id=str(other.id)),
            headers=world.headers(mine, Role.org_admin),
        )
        assert res.status_code == 403

    def test_created_with_weekend_gap_visible(self, client: TestClient, world: World) -> None:
        body = _create(client, world)
        assert body["closed_days"] == ["saturday", "sunday"]
        assert body["weekend_gap"] is True
        assert body["stale"] is False
        assert body["criminal_record_exclusions"] == ["Arson in the last 5 years"]

    def test_bad_hours_422(self, client: TestClient, world: World) -> None:
        org = world.org("Housing", OrgKind.housing)
        bad = [{"weekday": "monday", "opens": "17:00", "closes": "09:00"}]
        res = client.post(
            URL, json=_body(opening_hours=bad), headers=world.headers(org, Role.org_admin)
        )
        assert res.status_code == 422
        assert res.headers["content-type"] == "application/problem+json"

    def test_system_admin_creates_for_any_provider(self, client: TestClient, world: World) -> None:
        admin_org = world.org("Admin", OrgKind.care_coordination)
        provider = world.org("Peer", OrgKind.peer_support)
        res = client.post(
            URL,
            json=_body(provider_org_id=str(provider.id)),
            headers=world.headers(admin_org, Role.system_admin),
        )
        assert res.status_code == 201
        assert res.json()["provider_org_id"] == str(provider.id)


class TestSearchServices:
    def test_anonymous_401(self, client: TestClient) -> None:
        assert client.get(URL).status_code == 401

    def test_search_filters(self, client: TestClient, world: World) -> None:
        weekday = _create(client, world, name="Weekday housing advice zq1")
        weekend = _create(
            client,
            world,
            name="Weekend drop-in zq1",
            setting="both",
            categories=["food", "peer_support"],
            opening_hours=[{"weekday": "saturday", "opens": "10:00", "closes": "14:00"}],
            accepts_throughcare_referrals=False,
        )
        reader = world.org("Probation", OrgKind.probation)
        h = world.headers(reader)

        def names(**params: Any) -> set[str]:
            res = client.get(URL, params={"q": "zq1", **params}, headers=h)
            assert res.status_code == 200, res.text
            return {s["name"] for s in res.json()["items"]}

        assert names() == {weekday["name"], weekend["name"]}
        assert names(category="housing") == {weekday["name"]}
        assert names(setting="prison") == {weekend["name"]}  # "both" counts as prison
        assert names(open_day=5) == {weekend["name"]}
        assert names(open_day=5, open_at="15:00") == set()
        assert names(open_day=0, open_at="09:00") == {weekday["name"]}
        assert names(open_day=0, open_at="17:00") == set()
        assert names(accepting_referrals=True) == {weekday["name"]}
        assert names(q="WEEKEND DROP") == {weekend["name"]}

    def test_bad_time_422(self, client: TestClient, world: World) -> None:
        h = world.headers(world.org("Probation", OrgKind.probation))
        assert client.get(URL, params={"open_at": "25:00"}, headers=h).status_code == 422


class TestStaleEntries:
    def test_stale_flagged_and_listed_for_provider(
        self, client: TestClient, world: World, db: Any
    ) -> None:
        body = _create(client, world, name="Old entry zq2")
        row = db.get(Service, uuid.UUID(body["id"]))
        row.last_verified_at = utcnow() - timedelta(days=91)
        db.add(row)
        db.flush()
        provider = world.orgs["Housing"]
        admin = world.headers(provider, Role.org_admin)
        listed = client.get(f"{URL}/stale", headers=admin).json()["items"]
        assert [s["id"] for s in listed] == [body["id"]]
        assert listed[0]["stale"] is True
        other = world.headers(world.org("Peer", OrgKind.peer_support), Role.org_admin)
        assert client.get(f"{URL}/stale", headers=other).json()["items"] == []
        res = client.patch(f"{URL}/{body['id']}", json={"verified": True}, headers=admin)
        assert res.status_code == 200
        assert res.json()["stale"] is False
        assert client.get(f"{URL}/stale", headers=admin).json()["items"] == []


class TestReadAndUpdateService:
    def test_read_404(self, client: TestClient, world: World) -> None:
        h = world.headers(world.org("Probation", OrgKind.probation))
        res = client.get(f"{URL}/00000000-0000-4000-8000-000000000000", headers=h)
        assert res.status_code == 404

    def test_any_caller_reads(self, client: TestClient, world: World) -> None:
        body = _create(client, world)
        h = world.headers(world.org("Probation", OrgKind.probation))
        assert client.get(f"{URL}/{body['id']}", headers=h).json()["name"] == body["name"]

    def test_only_provider_admin_edits(self, client: TestClient, world: World) -> None:
        body = _create(client, world)
        other = world.headers(world.org("Peer", OrgKind.peer_support), Role.org_admin)
        path = f"{URL}/{body['id']}"
        assert client.patch(path, json={"name": "Hijack"}, headers=other).status_code == 403
        practitioner = world.headers(world.orgs["Housing"])
        assert client.patch(path, json={"name": "X y"}, headers=practitioner).status_code == 403
        admin = world.headers(world.orgs["Housing"], Role.org_admin)
        weekend = [*WEEKDAYS, {"weekday": "saturday", "opens": "10:00", "closes": "13:00"}]
        res = client.patch(path, json={"opening_hours": weekend}, headers=admin)
        assert res.status_code == 200
        assert res.json()["closed_days"] == ["sunday"]
        assert res.json()["version"] == 2
        assert client.patch(path, json={"name": None}, headers=admin).status_code == 422
        assert client.patch(path, json={"status": "x"}, headers=admin).status_code == 422


class TestHsdsExport:
    def test_anonymous_401(self, client: TestClient) -> None:
        assert client.get(f"{URL}/export/hsds").status_code == 401

    def test_hsds_shape(self, client: TestClient, world: World) -> None:
        body = _create(client, world)
        h = world.headers(world.org("Probation", OrgKind.probation))
        res = client.get(f"{URL}/export/hsds", params={"per_page": 100}, headers=h)
        assert res.status_code == 200
        found = [s for s in res.json()["contents"] if s["id"] == body["id"]]
        assert len(found) == 1
        hsds = found[0]
        assert hsds["organization"]["id"] == body["provider_org_id"]
        assert hsds["eligibility_description"] == body["eligibility"]
        assert {s["byday"] for s in hsds["schedules"]} == {"MO", "TU", "WE", "TH", "FR"}
        terms = {
            (a["taxonomy_term"]["taxonomy"], a["taxonomy_term"]["code"], a.get("value"))
            for a in hsds["attributes"]
        }
        assert ("throughcare-service-category", "housing", None) in terms
        assert ("throughcare-exclusion", "exclusion", "Under 18") in terms
        assert (
            "throughcare-referral-intake",
            "accepts_throughcare_referrals",
            "true",
        ) in terms
        assert [p["number"] for p in hsds["phones"]] == ["01632 960000"]
