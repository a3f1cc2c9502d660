"""The server answers what the contract says: 405 with Allow, the organisations directory,
docs that load nothing from outside."""

import re

import pytest
from fastapi.testclient import TestClient

from app.models.organisation import OrgKind, Role
from tests.fixtures import World

DIRECTORY = "/api/v1/organisations"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/referrals", "GET, POST"),
        ("DELETE", "/api/v1/participants", "GET, POST"),
        ("PUT", "/api/v1/services", "GET, POST"),
        ("DELETE", "/api/v1/admin/users", "GET, POST"),
        ("PATCH", "/api/v1/services/stale", "GET"),
        ("POST", "/api/v1/services/export/hsds", "GET"),
        ("PUT", "/api/v1/participants/00000000-0000-4000-8000-000000000001", "GET, PATCH"),
    ],
)
def test_405_names_every_method_the_path_takes(
    client: TestClient, world: World, method: str, path: str, allow: str
) -> None:
    headers = world.headers(world.org("Coord", OrgKind.care_coordination), Role.org_admin)
    response = client.request(method, path, headers=headers)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "00000000-0000" not in response.json()["instance"]


def test_a_fixed_path_still_answers_its_own_method(client: TestClient, world: World) -> None:
    headers = world.headers(world.org("Coord", OrgKind.care_coordination), Role.org_admin)
    assert client.get("/api/v1/services/stale", headers=headers).status_code == 200


class TestOrganisationsDirectory:
    def test_anonymous_is_401(self, client: TestClient) -> None:
        assert client.get(DIRECTORY).status_code == 401

    def test_a_practitioner_finds_every_organisation_and_who_takes_referrals(
        self, client: TestClient, world: World, db: object
    ) -> None:
        mine = world.org("Coord", OrgKind.care_coordination)
        cmht = world.org("CMHT", OrgKind.community_mental_health)
        closed = world.org("Closed", OrgKind.housing)
        closed.active = False
        world.session.add(closed)
        world.session.commit()
        response = client.get(f"{DIRECTORY}?limit=100", headers=world.headers(mine))
        assert response.status_code == 200, response.text
        entries = {e["id"]: e for e in response.json()["items"]}
        assert entries[str(cmht.id)] == {
            "id": str(cmht.id),
            "name": cmht.name,
            "kind": "community_mental_health",
            "accepts_referrals": True,
        }
        assert entries[str(closed.id)]["accepts_referrals"] is False
        assert str(mine.id) in entries

    def test_a_partner_client_filters_by_kind_and_intake(
        self, client: TestClient, world: World
    ) -> None:
        partner = world.client_headers(world.org("Prison", OrgKind.prison_healthcare), [])
        housing = world.org("Housing", OrgKind.housing)
        response = client.get(
            f"{DIRECTORY}?kind=housing&accepts_referrals=true&limit=100", headers=partner
        )
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert str(housing.id) in {e["id"] for e in items}
        assert {e["kind"] for e in items} == {"housing"}
        assert all(e["accepts_referrals"] for e in items)

    def test_pages_follow_the_cursor_and_a_forged_one_is_400(
        self, client: TestClient, world: World
    ) -> None:
        headers = world.headers(world.org("A", OrgKind.voluntary))
        world.org("B", OrgKind.voluntary)
        first = client.get(f"{DIRECTORY}?limit=1", headers=headers).json()
        assert first["next_cursor"]
        response = client.get(f"{DIRECTORY}?limit=1&cursor={first['next_cursor']}", headers=headers)
        assert response.status_code == 200, response.text
        second = response.json()
        assert second["items"][0]["id"] != first["items"][0]["id"]
        forged = client.get(f"{DIRECTORY}?cursor=bm90LW91cnM", headers=headers)
        assert forged.status_code == 400


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_load_their_assets_from_the_application(client: TestClient, page: str) -> None:
    html = client.get(page).text
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert all(s.startswith("/") for s in sources), f"external assets: {sources}"
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 1000, source
    assert "fonts.googleapis" not in html and "cdn.jsdelivr" not in html


def test_me_answers_a_partner_system_with_its_role(client: TestClient, world: World) -> None:
    partner = world.client_headers(world.org("Prison", OrgKind.prison_healthcare), [])
    response = client.get("/api/v1/me", headers=partner)
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "partner_system"
    assert response.json()["token_type"] == "client"
