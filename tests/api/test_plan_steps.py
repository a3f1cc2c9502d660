"""Steps (actions), the participant's workbook, reviews and frozen plan versions."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.models.participant import CareRole
from tests.api.care_world import Care, assert_problem, build_care, member
from tests.api.test_plan import add_goal, add_step
from tests.fixtures import World


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


class TestCreateAction:
    def test_anonymous_and_scope(self, client: TestClient, care: Care) -> None:
        assert_problem(client.post(care.url("/plan/actions"), json={}), 401)
        headers = care.headers(care.coord, scope="plans:read")
        assert_problem(client.post(care.url("/plan/actions"), json={}, headers=headers), 403)

    def test_not_visible_is_404(self, client: TestClient, care: Care) -> None:
        body = {"goal_id": str(care.pid), "description": "x", "owner_kind": "participant"}
        response = client.post(
            care.url("/plan/actions"), json=body, headers=care.headers(care.housing)
        )
        assert_problem(response, 404)

    def test_owner_rules(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        headers = care.headers(care.coord)
        base = {"goal_id": goal["id"], "description": "Meet at the gate"}
        for body in (
            {**base, "owner_kind": "practitioner"},
            {**base, "owner_kind": "participant", "owner_org_id": str(care.peer.id)},
            {
                **base,
                "owner_kind": "other_professional",
                "owner_org_id": "00000000-0000-0000-0000-000000000001",
            },
            {**base, "owner_kind": "participant", "status": "done"},
            {"goal_id": str(care.pid), "description": "x", "owner_kind": "participant"},
        ):
            response = client.post(care.url("/plan/actions"), json=body, headers=headers)
            assert_problem(response, 422)
        step = add_step(
            client,
            care,
            care.coord,
            goal["id"],
            owner_kind="family_peer",
            owner_org_id=str(care.peer.id),
            owner_label="Peer mentor",
            resource="Second-chance gate pick-up",
        )
        assert step["status"] == "planned" and step["source_org_id"] == str(care.coord.id)

    def test_audit_row_names_the_new_step(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        step = add_step(client, care, care.coord, goal["id"])
        [event] = care.events("action", care.coord)
        assert event.action == "create" and event.resource_id == step["id"]

    def test_hidden_goal_answers_like_unknown_goal(self, client: TestClient, care: Care) -> None:
        # Housing joins as a contributor; no protocol shares its plan records with the CMHT.
        member(care.db, care.participant, care.housing, CareRole.contributor)
        care.db.commit()
        hidden = add_goal(client, care, care.housing)
        headers = care.headers(care.cmht)
        answers = []
        for goal_id in (hidden["id"], "00000000-0000-4000-8000-000000000001"):
            body = {"goal_id": goal_id, "description": "x", "owner_kind": "participant"}
            response = client.post(care.url("/plan/actions"), json=body, headers=headers)
            problem = assert_problem(response, 422)
            answers.append((problem["title"], problem["detail"], problem.get("errors")))
        assert answers[0] == answers[1]
        # The refusal over the hidden goal is still on the record.
        assert care.events("action", care.cmht)[0].outcome == "denied"


class TestUpdateAction:
    def test_owner_org_records_outcome_only(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        step = add_step(
            client,
            care,
            care.coord,
            goal["id"],
            owner_kind="family_peer",
            owner_org_id=str(care.peer.id),
        )
        url = care.url(f"/plan/actions/{step['id']}")
        peer = care.headers(care.peer, **{"If-Match": step["etag"]})
        assert_problem(client.patch(url, json={"description": "changed"}, headers=peer), 403)
        response = client.patch(
            url, json={"status": "done", "outcome_note": "Met him at the gate"}, headers=peer
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "done"
        assert response.json()["outcome_recorded_at"] is not None

    def test_non_owner_non_editor_is_403(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        step = add_step(client, care, care.coord, goal["id"])
        headers = care.headers(care.peer, **{"If-Match": step["etag"]})
        response = client.patch(
            care.url(f"/plan/actions/{step['id']}"), json={"status": "done"}, headers=headers
        )
        assert_problem(response, 403)

    def test_participant_records_own_step(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        mine = add_step(client, care, care.coord, goal["id"])
        theirs = add_step(
            client,
            care,
            care.coord,
            goal["id"],
            owner_kind="practitioner",
            owner_org_id=str(care.coord.id),
        )
        me = {**care.me(), "If-Match": mine["etag"]}
        url = care.url(f"/plan/actions/{mine['id']}")
        assert_problem(client.patch(url, json={"status": "not_done"}, headers=me), 422)
        assert_problem(client.patch(url, json={"due_date": "2031-01-01"}, headers=me), 403)
        response = client.patch(
            url, json={"status": "not_done", "outcome_note": "Phone had no credit"}, headers=me
        )
        assert response.status_code == 200, response.text
        other = {**care.me(), "If-Match": theirs["etag"]}
        response = client.patch(
            care.url(f"/plan/actions/{theirs['id']}"), json={"status": "done"}, headers=other
        )
        assert_problem(response, 403)
        event = care.events("action")[-1]
        assert event.actor_role == "participant" and event.action == "update"

    def test_partner_updates_only_steps_it_owns(self, client: TestClient, care: Care) -> None:
        """A contributing organisation that neither leads nor owns a step may not record
        its status or outcome (nor change it otherwise)."""
        goal = add_goal(client, care, care.coord)
        step = add_step(
            client,
            care,
            care.coord,
            goal["id"],
            owner_kind="practitioner",
            owner_org_id=str(care.coord.id),
        )
        url = care.url(f"/plan/actions/{step['id']}")
        cmht = care.headers(care.cmht, **{"If-Match": step["etag"]})
        for body in (
            {"status": "done"},
            {"status": "not_done", "outcome_note": "Did not go"},
            {"outcome_note": "Went"},
            {"description": "Changed by a partner"},
        ):
            assert_problem(client.patch(url, json=body, headers=cmht), 403)
        # A stale ETag does not change the answer: permission comes first.
        stale = care.headers(care.cmht, **{"If-Match": '"action-9"'})
        assert_problem(client.patch(url, json={"status": "done"}, headers=stale), 403)
        read = client.get(care.url("/plan"), headers=care.headers(care.coord)).json()
        [seen] = read["goals"][0]["actions"]
        assert seen["status"] == "planned" and seen["outcome_note"] is None
        assert seen["version"] == 1

    def test_partner_owner_and_lead_update_a_step(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        step = add_step(
            client,
            care,
            care.coord,
            goal["id"],
            owner_kind="practitioner",
            owner_org_id=str(care.cmht.id),
        )
        url = care.url(f"/plan/actions/{step['id']}")
        owner = care.headers(care.cmht, **{"If-Match": step["etag"]})
        response = client.patch(
            url, json={"status": "done", "outcome_note": "Assessed"}, headers=owner
        )
        assert response.status_code == 200, response.text
        lead = care.headers(care.coord, **{"If-Match": response.headers["ETag"]})
        response = client.patch(url, json={"status": "planned", "due_date": None}, headers=lead)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "planned"

    def test_transitions(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        step = add_step(client, care, care.coord, goal["id"])
        url = care.url(f"/plan/actions/{step['id']}")
        headers = care.headers(care.coord)
        done = client.patch(
            url, json={"status": "done"}, headers={**headers, "If-Match": step["etag"]}
        )
        assert done.status_code == 200
        response = client.patch(
            url,
            json={"status": "not_done", "outcome_note": "x"},
            headers={**headers, "If-Match": done.headers["ETag"]},
        )
        assert_problem(response, 409)


class TestWorkbook:
    def test_participant_sees_own_steps_by_due_date(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        add_step(client, care, care.coord, goal["id"], description="Later", due_date="2030-03-01")
        add_step(client, care, care.coord, goal["id"], description="Overdue", due_date="2020-01-01")
        add_step(
            client,
            care,
            care.coord,
            goal["id"],
            description="Worker's",
            owner_kind="practitioner",
            owner_org_id=str(care.coord.id),
        )
        assert_problem(client.get(care.url("/plan/workbook")), 401)
        response = client.get(care.url("/plan/workbook"), headers=care.me())
        assert response.status_code == 200, response.text
        steps = response.json()["my_steps"]
        assert [s["action"]["description"] for s in steps] == ["Overdue", "Later"]
        assert [s["overdue"] for s in steps] == [True, False]
        assert steps[0]["goal_title"] == "Secure a tenancy"
        assert care.events("workbook")[-1].basis[0]["basis"] == "self"

    def test_other_org_without_relationship_is_404(self, client: TestClient, care: Care) -> None:
        response = client.get(care.url("/plan/workbook"), headers=care.headers(care.housing))
        assert_problem(response, 404)


class TestReviewsAndVersions:
    def test_review_freezes_a_version(self, client: TestClient, care: Care) -> None:
        goal = add_goal(client, care, care.coord)
        step = add_step(client, care, care.coord, goal["id"])
        headers = care.headers(care.coord)
        assert_problem(client.post(care.url("/plan/reviews"), json={"held_on": "2030-01-01"}), 401)
        response = client.post(
            care.url("/plan/reviews"),
            json={
                "held_on": "2030-01-05",
                "attendees": ["Participant", "Coordinator"],
                "notes": "Agreed first steps",
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["plan_version"] == 1
        client.patch(
            care.url(f"/plan/actions/{step['id']}"),
            json={"status": "done"},
            headers={**headers, "If-Match": step["etag"]},
        )
        frozen = client.get(care.url("/plan/versions/1"), headers=headers)
        assert frozen.status_code == 200, frozen.text
        assert frozen.json()["goals"][0]["actions"][0]["status"] == "planned"
        current = client.get(care.url("/plan"), headers=headers).json()
        assert current["goals"][0]["actions"][0]["status"] == "done"
        assert current["reviews"] == 1
        assert_problem(client.get(care.url("/plan/versions/2"), headers=headers), 404)
        assert_problem(client.get(care.url("/plan/versions/0"), headers=headers), 422)
        assert care.events("plan_version", care.coord)[-1].outcome == "allowed"

    def test_frozen_version_is_filtered_now(self, client: TestClient, care: Care) -> None:
        add_goal(client, care, care.coord)
        add_goal(client, care, care.cmht, title="Attend therapy", life_domain="health")
        client.post(
            care.url("/plan/reviews"),
            json={"held_on": "2030-01-05"},
            headers=care.headers(care.coord),
        )
        body = client.get(care.url("/plan/versions/1"), headers=care.headers(care.peer)).json()
        assert [g["title"] for g in body["goals"]] == ["Secure a tenancy"]
        assert body["withheld"] == [{"category": "plan", "reason": "no_protocol", "count": 1}]

    def test_list_reviews_and_who_may_review(self, client: TestClient, care: Care) -> None:
        headers = care.headers(care.coord)
        response = client.post(
            care.url("/plan/reviews"), json={"held_on": "2030-01-05"}, headers=headers
        )
        assert_problem(response, 409)  # nothing to review yet
        add_goal(client, care, care.coord)
        for held in ("2030-01-05", "2030-02-05"):
            client.post(care.url("/plan/reviews"), json={"held_on": held}, headers=headers)
        response = client.post(
            care.url("/plan/reviews"),
            json={"held_on": "2030-03-01"},
            headers=care.headers(care.peer),
        )
        assert_problem(response, 403)
        listed = client.get(care.url("/plan/reviews?limit=1"), headers=care.headers(care.cmht))
        assert listed.status_code == 200
        assert [r["held_on"] for r in listed.json()["items"]] == ["2030-02-05"]
        cursor = listed.json()["next_cursor"]
        more = client.get(
            care.url(f"/plan/reviews?limit=1&cursor={cursor}"), headers=care.headers(care.cmht)
        )
        more = more.json()
        assert [r["held_on"] for r in more["items"]] == ["2030-01-05"]
        assert_problem(
            client.get(care.url("/plan/reviews"), headers=care.headers(care.housing)), 404
        )
        assert care.events("review", care.cmht)[-1].categories == ["plan"]
