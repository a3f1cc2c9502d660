"""Record metadata follows what the reader may see: versions, updated_at and ETags of
participants and plans never move because of something withheld; refusals come before
preconditions."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.organisation import Organisation, OrgKind
from tests.api.care_world import Care, assert_problem, build_care
from tests.api.helpers import member, protocol
from tests.api.test_plan import add_goal
from tests.fixtures import World


@pytest.fixture
def coord(world: World) -> Organisation:
    return world.org("Coordination", OrgKind.care_coordination)


def _register(client: TestClient, world: World, org: Organisation) -> str:
    body = {"given_name": "Jo", "family_name": "Sample", "phone": "07700 900000"}
    response = client.post("/api/v1/participants", json=body, headers=world.headers(org))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _patch(
    client: TestClient, world: World, org: Organisation, pid: str, body: dict[str, Any], tag: str
) -> Any:
    headers = world.headers(org, **({"If-Match": tag} if tag else {}))
    return client.patch(f"/api/v1/participants/{pid}", json=body, headers=headers)


class TestParticipantMetadata:
    def test_reader_seeing_nothing_learns_nothing_of_changes(
        self, client: TestClient, world: World, coord: Organisation
    ) -> None:
        pid = _register(client, world, coord)
        housing = world.org("Housing", OrgKind.housing)
        member(world.session, uuid.UUID(pid), housing)  # on the care team, no protocol
        url = f"/api/v1/participants/{pid}"
        before = client.get(url, headers=world.headers(housing))
        assert before.status_code == 200
        body = before.json()
        assert {w["category"] for w in body["withheld"]} >= {"identity", "contact"}
        assert "version" not in body and "updated_at" not in body
        lead = client.get(url, headers=world.headers(coord))
        changed = _patch(client, world, coord, pid, {"phone": "07700 900999"}, lead.headers["ETag"])
        assert changed.status_code == 200, changed.text
        after = client.get(url, headers=world.headers(housing))
        assert after.json() == body
        assert after.headers["ETag"] == before.headers["ETag"]
        # The lead sees everything, and its tag and version move.
        assert changed.headers["ETag"] != lead.headers["ETag"]
        assert changed.json()["version"] == lead.json()["version"] + 1

    def test_partial_reader_tag_moves_only_with_what_it_sees(
        self, client: TestClient, world: World, coord: Organisation
    ) -> None:
        pid = _register(client, world, coord)
        probation = world.org("Probation", OrgKind.probation)
        member(world.session, uuid.UUID(pid), probation)
        protocol(world.session, source=coord, recipient=probation, categories=["identity"])
        url = f"/api/v1/participants/{pid}"
        seen = client.get(url, headers=world.headers(probation))
        assert seen.json()["given_name"] == "Jo" and "version" not in seen.json()
        tag = client.get(url, headers=world.headers(coord)).headers["ETag"]
        tag = _patch(client, world, coord, pid, {"phone": "1"}, tag).headers["ETag"]
        unchanged = client.get(url, headers=world.headers(probation))
        assert unchanged.headers["ETag"] == seen.headers["ETag"]
        # A change it can see moves its tag.
        _patch(client, world, coord, pid, {"preferred_name": "Joey"}, tag)
        moved = client.get(url, headers=world.headers(probation))
        assert moved.headers["ETag"] != seen.headers["ETag"]

    def test_writer_if_match_covers_what_it_may_see(
        self, client: TestClient, world: World, coord: Organisation
    ) -> None:
        pid = _register(client, world, coord)
        probation = world.org("Probation", OrgKind.probation)
        member(world.session, uuid.UUID(pid), probation)
        protocol(
            world.session, source=coord, recipient=probation, categories=["identity", "contact"]
        )
        url = f"/api/v1/participants/{pid}"
        mine = client.get(url, headers=world.headers(probation)).headers["ETag"]
        # The lead changes custody, which probation may not see: probation's tag still holds.
        lead = client.get(url, headers=world.headers(coord)).headers["ETag"]
        assert (
            _patch(client, world, coord, pid, {"establishment": "HMP Y"}, lead).status_code == 200
        )
        response = _patch(client, world, probation, pid, {"phone": "07700 900111"}, mine)
        assert response.status_code == 200, response.text
        # A change to what probation sees makes its old tag stale: 412, nothing changed.
        stale = _patch(client, world, probation, pid, {"phone": "07700 900222"}, mine)
        assert_problem(stale, 412)
        lead_view = client.get(url, headers=world.headers(coord)).json()
        assert (lead_view["phone"], lead_view["establishment"]) == ("07700 900111", "HMP Y")

    def test_refusal_comes_before_the_precondition(
        self, client: TestClient, world: World, coord: Organisation
    ) -> None:
        pid = _register(client, world, coord)
        housing = world.org("Housing", OrgKind.housing)
        member(world.session, uuid.UUID(pid), housing)
        url = f"/api/v1/participants/{pid}"
        current = client.get(url, headers=world.headers(housing)).headers["ETag"]
        # Contact is withheld from housing: the answer is 403 whatever the tag says.
        for tag in (current, '"p-1"', '"p-0123456789abcdef"', ""):
            assert_problem(_patch(client, world, housing, pid, {"phone": "1"}, tag), 403)
        # Only the lead names the lead practitioner, whatever the tag.
        protocol(world.session, source=coord, recipient=housing, categories=["plan"])
        for tag in ('"p-1"', ""):
            response = _patch(client, world, housing, pid, {"lead_practitioner_id": None}, tag)
            assert_problem(response, 403)


class TestPlanMetadata:
    @pytest.fixture
    def care(self, world: World, db: Session) -> Care:
        return build_care(world, db)

    def test_hidden_goals_do_not_move_the_plan_tag(self, client: TestClient, care: Care) -> None:
        add_goal(client, care, care.coord)
        hidden = add_goal(client, care, care.cmht, title="Talking therapy", life_domain="health")
        peer = client.get(care.url("/plan"), headers=care.headers(care.peer))
        assert peer.json()["withheld"] and peer.json()["version"] is None
        lead = client.get(care.url("/plan"), headers=care.headers(care.coord))
        assert lead.json()["withheld"] == [] and lead.json()["version"] >= 1
        # The CMHT changes its goal, which the peer organisation may not see.
        response = client.patch(
            care.url(f"/plan/goals/{hidden['id']}"),
            json={"priority": 1},
            headers=care.headers(care.cmht, **{"If-Match": hidden["etag"]}),
        )
        assert response.status_code == 200, response.text
        again = client.get(care.url("/plan"), headers=care.headers(care.peer))
        assert again.json() == peer.json() and again.headers["ETag"] == peer.headers["ETag"]
        moved = client.get(care.url("/plan"), headers=care.headers(care.coord))
        assert moved.json()["version"] == lead.json()["version"] + 1
        assert moved.headers["ETag"] != lead.headers["ETag"]

    def test_hidden_reviews_are_not_counted(self, client: TestClient, care: Care) -> None:
        add_goal(client, care, care.coord)
        review = {"held_on": "2026-01-05", "attendees": ["Sam"]}
        response = client.post(
            care.url("/plan/reviews"), json=review, headers=care.headers(care.cmht)
        )
        assert response.status_code == 201, response.text
        peer = client.get(care.url("/plan"), headers=care.headers(care.peer)).json()
        assert peer["reviews"] == 0 and peer["version"] is None
        assert (
            client.get(care.url("/plan"), headers=care.headers(care.coord)).json()["reviews"] == 1
        )

    def test_hidden_plan_version_answers_like_a_missing_one(
        self, client: TestClient, care: Care
    ) -> None:
        add_goal(client, care, care.coord)
        review = {"held_on": "2026-01-05", "attendees": ["Sam"]}
        response = client.post(
            care.url("/plan/reviews"), json=review, headers=care.headers(care.cmht)
        )
        assert response.status_code == 201, response.text
        peer = care.headers(care.peer)
        hidden = assert_problem(client.get(care.url("/plan/versions/1"), headers=peer), 404)
        missing = assert_problem(client.get(care.url("/plan/versions/2"), headers=peer), 404)
        assert (hidden["title"], hidden["detail"]) == (missing["title"], missing["detail"])
        assert care.events("plan_version", care.peer)[0].outcome == "denied"
