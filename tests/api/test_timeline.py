"""The timeline: every record type through the gate, newest first, withheld as counts."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.api.care_world import Care, assert_problem, build_care
from tests.api.test_appointments import book
from tests.api.test_plan import add_goal, add_step
from tests.api.test_records import alert, screen
from tests.fixtures import World


@pytest.fixture
def care(world: World, db: Session) -> Care:
    care = build_care(world, db)
    return care


@pytest.fixture
def filled(client: TestClient, care: Care) -> Care:
    goal = add_goal(client, care, care.coord)
    add_step(client, care, care.coord, goal["id"])
    assert book(client, care, care.coord, -48, kind="gate_meeting").status_code == 201
    assert alert(client, care, care.coord).status_code == 201
    assert screen(client, care, care.coord).status_code == 201
    assert screen(client, care, care.cmht, instrument="GAD-7", responses=[1] * 7).status_code == 201
    return care


class TestTimeline:
    def test_anonymous_scope_visibility(self, client: TestClient, care: Care) -> None:
        assert_problem(client.get(care.url("/timeline")), 401)
        headers = care.headers(care.coord, scope="plans:read")
        assert_problem(client.get(care.url("/timeline"), headers=headers), 403)
        assert_problem(client.get(care.url("/timeline"), headers=care.headers(care.housing)), 404)
        assert care.events("timeline", care.housing)[0].outcome == "denied"

    def test_coordinator_sees_everything_newest_first(
        self, client: TestClient, filled: Care
    ) -> None:
        body = client.get(filled.url("/timeline"), headers=filled.headers(filled.coord)).json()
        kinds = [e["kind"] for e in body["items"]]
        assert sorted(kinds) == sorted(
            ["goal", "action", "appointment", "risk_alert", "screening", "screening"]
        )
        times = [e["at"] for e in body["items"]]
        assert times == sorted(times, reverse=True)
        assert kinds[-1] == "appointment"  # two days ago
        assert body["withheld"] == []

    def test_cmht_sees_counts_for_what_needs_consent(
        self, client: TestClient, filled: Care
    ) -> None:
        body = client.get(filled.url("/timeline"), headers=filled.headers(filled.cmht)).json()
        assert sorted(e["kind"] for e in body["items"]) == [
            "action",
            "appointment",
            "goal",
            "screening",
        ]
        assert body["withheld"] == [
            {"category": "mental_health", "reason": "no_consent", "count": 1},
            {"category": "risk", "reason": "no_consent", "count": 1},
        ]
        assert "urges" not in str(body)
        event = filled.events("timeline", filled.cmht)[-1]
        assert event.categories == ["appointments", "mental_health", "plan"]
        assert {w["category"] for w in event.withheld} == {"risk"}

    def test_participant_timeline(self, client: TestClient, filled: Care) -> None:
        body = client.get(filled.url("/timeline"), headers=filled.me()).json()
        assert sorted(e["kind"] for e in body["items"]) == ["action", "appointment", "goal"]
        reasons = {w["reason"] for w in body["withheld"]}
        assert reasons == {"ask_your_practitioner"}
        assert sum(w["count"] for w in body["withheld"]) == 3

    def test_paging(self, client: TestClient, filled: Care) -> None:
        headers = filled.headers(filled.coord)
        seen: list[str] = []
        url = filled.url("/timeline?limit=4")
        while url:
            body = client.get(url, headers=headers).json()
            seen.extend(e["id"] for e in body["items"])
            cursor = body["next_cursor"]
            url = filled.url(f"/timeline?limit=4&cursor={cursor}") if cursor else ""
        assert len(seen) == len(set(seen)) == 6
        assert_problem(client.get(filled.url("/timeline?cursor=abc"), headers=headers), 400)


class TestCaseNotesOnTheTimeline:
    """Each note is in its author's chosen category: shown where that category is visible
    from its organisation, counted as withheld elsewhere, the disclosure audited."""

    def notes(self, client: TestClient, care: Care) -> dict[str, str]:
        ids = {}
        for category, text in [
            ("plan", "Reviewed the plan together."),
            ("mental_health", "Low mood, urges"),
        ]:
            body = {
                "kind": "meeting",
                "category": category,
                "occurred_on": "2026-11-20",
                "text": text,
            }
            res = client.post(care.url("/notes"), json=body, headers=care.headers(care.coord))
            assert res.status_code == 201, res.text
            ids[category] = res.json()["id"]
        return ids

    def test_author_sees_both_notes(self, client: TestClient, care: Care) -> None:
        ids = self.notes(client, care)
        body = client.get(care.url("/timeline"), headers=care.headers(care.coord)).json()
        notes = {e["id"]: e for e in body["items"] if e["kind"] == "case_note"}
        assert set(notes) == set(ids.values())
        assert notes[ids["mental_health"]]["category"] == "mental_health"
        assert (
            notes[ids["plan"]]["summary"]
            == "Note (meeting, 2026-11-20): Reviewed the plan together."
        )
        assert body["withheld"] == []

    def test_cmht_sees_only_the_category_it_may(self, client: TestClient, care: Care) -> None:
        ids = self.notes(client, care)
        body = client.get(care.url("/timeline"), headers=care.headers(care.cmht)).json()
        assert [e["id"] for e in body["items"] if e["kind"] == "case_note"] == [ids["plan"]]
        assert body["withheld"] == [
            {"category": "mental_health", "reason": "no_consent", "count": 1}
        ]
        assert "urges" not in str(body)
        event = care.events("timeline", care.cmht)[-1]
        assert event.categories == ["plan"]
        assert {w["category"] for w in event.withheld} == {"mental_health"}

    def test_participant_peer_and_stranger(self, client: TestClient, care: Care) -> None:
        ids = self.notes(client, care)
        body = client.get(care.url("/timeline"), headers=care.me()).json()
        assert [e["id"] for e in body["items"]] == [ids["plan"]]  # plan is self-service
        assert body["withheld"] == [
            {"category": "mental_health", "reason": "ask_your_practitioner", "count": 1}
        ]
        only_hidden = client.get(care.url("/timeline"), headers=care.headers(care.peer)).json()
        assert [e["id"] for e in only_hidden["items"]] == [ids["plan"]]
        assert only_hidden["withheld"] == [
            {"category": "mental_health", "reason": "no_protocol", "count": 1}
        ]
        assert_problem(client.get(care.url("/timeline"), headers=care.headers(care.housing)), 404)
