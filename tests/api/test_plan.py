"""The shared action plan: reading through the gate, goals, and who may edit what."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.organisation import Organisation
from tests.api.care_world import Care, assert_problem, build_care
from tests.fixtures import World


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


def add_goal(client: TestClient, care: Care, org: Organisation, **body: Any) -> dict[str, Any]:
    payload = {
        "title": "Secure a tenancy",
        "horizon": "short_term_recovery",
        "life_domain": "housing",
        **body,
    }
    response = client.post(care.url("/plan/goals"), json=payload, headers=care.headers(org))
    assert response.status_code == 201, response.text
    return dict(response.json())


def add_step(
    client: TestClient, care: Care, org: Organisation, goal_id: str, **body: Any
) -> dict[str, Any]:
    payload = {
        "goal_id": goal_id,
        "description": "Ring the housing options line",
        "owner_kind": "participant",
        "due_date": "2030-01-10",
        **body,
    }
    response = client.post(care.url("/plan/actions"), json=payload, headers=care.headers(org))
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestReadPlan:
    def test_anonymous_is_401(self, client: TestClient, care: Care) -> None:
        assert_problem(client.get(care.url("/plan")), 401)

    def test_missing_scope_is_403(self, client: TestClient, care: Care) -> None:
        headers = care.headers(care.coord, scope="participants:read")
        assert_problem(client.get(care.url("/plan"), headers=headers), 403)

    def test_no_relationship_is_404_and_audited(self, client: TestClient, care: Care) -> None:
        assert_problem(client.get(care.url("/plan"), headers=care.headers(care.housing)), 404)
        [event] = care.events("plan", care.housing)
        assert event.outcome == "denied"

    def test_empty_plan(self, client: TestClient, care: Care) -> None:
        response = client.get(care.url("/plan"), headers=care.headers(care.coord))
        assert response.status_code == 200
        assert response.json()["goals"] == [] and response.json()["version"] == 0
        # A strong tag over what the caller sees: it moves when a goal is added.
        etag = response.headers["ETag"]
        assert etag.startswith('"plan-') and etag.endswith('"')
        add_goal(client, care, care.coord)
        again = client.get(care.url("/plan"), headers=care.headers(care.coord))
        assert again.headers["ETag"] != etag and again.json()["version"] > 0

    def test_each_org_sees_exactly_what_protocols_allow(
        self, client: TestClient, care: Care
    ) -> None:
        coord_goal = add_goal(client, care, care.coord)
        add_step(client, care, care.coord, coord_goal["id"])
        add_goal(client, care, care.cmht, title="Attend talking therapy", life_domain="health")
        # The coordinator sees both (cmht -> coordination protocol covers plan).
        body = client.get(care.url("/plan"), headers=care.headers(care.coord)).json()
        assert {g["title"] for g in body["goals"]} == {"Secure a tenancy", "Attend talking therapy"}
        assert body["withheld"] == []
        # The peer organisation sees coordination's goal and step, not the CMHT's goal.
        body = client.get(care.url("/plan"), headers=care.headers(care.peer)).json()
        assert [g["title"] for g in body["goals"]] == ["Secure a tenancy"]
        assert len(body["goals"][0]["actions"]) == 1
        assert body["withheld"] == [{"category": "plan", "reason": "no_protocol", "count": 1}]
        [event] = care.events("plan", care.peer)
        assert event.outcome == "allowed" and event.categories == ["plan"]
        assert event.basis[0]["basis"] == "protocol"

    def test_participant_sees_own_plan(self, client: TestClient, care: Care) -> None:
        add_goal(client, care, care.coord)
        response = client.get(care.url("/plan"), headers=care.me())
        assert response.status_code == 200
        assert [g["title"] for g in response.json()["goals"]] == ["Secure a tenancy"]
        assert care.events("plan")[-1].basis[0]["basis"] == "self"

    def test_other_participant_is_404(self, client: TestClient, care: Care, db: Session) -> None:
        other = build_care(care.world, db)
        headers = other.me()
        assert_problem(client.get(care.url("/plan"), headers=headers), 404)


class TestCreateGoal:
    def test_anonymous_is_401(self, client: TestClient, care: Care) -> None:
        assert_problem(client.post(care.url("/plan/goals"), json={}), 401)

    def test_missing_scope_is_403(self, client: TestClient, care: Care) -> None:
        headers = care.headers(care.coord, scope="plans:read")
        response = client.post(care.url("/plan/goals"), json={}, headers=headers)
        assert_problem(response, 403)

    def test_not_visible_is_404(self, client: TestClient, care: Care) -> None:
        body = {"title": "x", "horizon": "short_term_recovery", "life_domain": "housing"}
        response = client.post(
            care.url("/plan/goals"), json=body, headers=care.headers(care.housing)
        )
        assert_problem(response, 404)

    def test_created_with_source_and_write_audited(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord, priority=1)
        assert goal["source_org_id"] == str(care.coord.id)
        assert goal["etag"] == '"goal-1"' and goal["status"] == "active"
        [event] = care.events("goal", care.coord)
        assert event.action == "create" and event.categories == ["plan"]

    @pytest.mark.parametrize(
        "body",
        [
            {"title": "x", "horizon": "someday", "life_domain": "housing"},
            {
                "title": "x",
                "horizon": "short_term_recovery",
                "life_domain": "housing",
                "priority": 9,
            },
            {
                "title": "x",
                "horizon": "short_term_recovery",
                "life_domain": "housing",
                "source_org_id": "00000000-0000-0000-0000-000000000000",
            },
            {"title": "", "horizon": "short_term_recovery", "life_domain": "housing"},
        ],
    )
    def test_bad_input_is_422(self, client: TestClient, care: Care, body: Any) -> None:
        response = client.post(care.url("/plan/goals"), json=body, headers=care.headers(care.coord))
        assert_problem(response, 422)

    def test_peer_and_participant_may_not_add_goals(self, client: TestClient, care: Care) -> None:
        body = {"title": "x", "horizon": "short_term_recovery", "life_domain": "housing"}
        for headers in (care.headers(care.peer), care.me()):
            assert_problem(client.post(care.url("/plan/goals"), json=body, headers=headers), 403)


class TestUpdateGoal:
    def test_if_match_required_and_checked(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        url = care.url(f"/plan/goals/{goal['id']}")
        headers = care.headers(care.coord)
        assert_problem(client.patch(url, json={"status": "achieved"}, headers=headers), 428)
        stale = {**headers, "If-Match": '"goal-9"'}
        assert_problem(client.patch(url, json={"status": "achieved"}, headers=stale), 412)
        ok = client.patch(
            url, json={"status": "achieved"}, headers={**headers, "If-Match": goal["etag"]}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "achieved" and ok.headers["ETag"] == '"goal-2"'

    def test_same_if_match_twice_loses_no_update(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        url = care.url(f"/plan/goals/{goal['id']}")
        first = client.patch(
            url,
            json={"title": "Tenancy by spring"},
            headers=care.headers(care.coord, **{"If-Match": goal["etag"]}),
        )
        second = client.patch(
            url, json={"priority": 1}, headers=care.headers(care.cmht, **{"If-Match": goal["etag"]})
        )
        assert (first.status_code, second.status_code) == (200, 412)
        plan = client.get(care.url("/plan"), headers=care.headers(care.coord)).json()
        assert plan["goals"][0]["title"] == "Tenancy by spring"
        assert plan["goals"][0]["priority"] == 2

    def test_contributor_may_edit_peer_may_not(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        url = care.url(f"/plan/goals/{goal['id']}")
        peer = care.headers(care.peer, **{"If-Match": goal["etag"]})
        assert_problem(client.patch(url, json={"priority": 1}, headers=peer), 403)
        cmht = care.headers(care.cmht, **{"If-Match": goal["etag"]})
        assert client.patch(url, json={"priority": 1}, headers=cmht).status_code == 200

    def test_invisible_goal_is_404(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.cmht, title="Attend therapy")
        # No cmht -> peer_support protocol: for the peer org this goal does not exist.
        headers = care.headers(care.peer, **{"If-Match": goal["etag"]})
        response = client.patch(
            care.url(f"/plan/goals/{goal['id']}"), json={"priority": 1}, headers=headers
        )
        assert_problem(response, 404)
        assert care.events("goal", care.peer)[-1].outcome == "denied"

    def test_null_title_is_422(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        headers = care.headers(care.coord, **{"If-Match": goal["etag"]})
        response = client.patch(
            care.url(f"/plan/goals/{goal['id']}"), json={"title": None}, headers=headers
        )
        assert_problem(response, 422)
