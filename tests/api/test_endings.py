"""Endings prepared from the start: the checklist, who keeps it, and the caseload's endings."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.organisation import Organisation, OrgKind
from app.models.participant import CareRole
from app.models.plan import Plan, Review
from tests.api.care_world import Care, assert_problem, build_care, member
from tests.fixtures import World

TODAY = datetime.now(UTC).date()


@pytest.fixture
def care(world: World, db: Session) -> Care:
    care = build_care(world, db)
    care.participant.intervention_end = TODAY + timedelta(days=20)
    db.add(care.participant)
    db.commit()
    return care


def review(care: Care, org: Organisation, held_on: date) -> Review:
    plan = care.db.exec(select(Plan).where(Plan.participant_id == care.pid)).first()
    if plan is None:
        plan = Plan(participant_id=care.pid, source_org_id=care.coord.id)
        care.db.add(plan)
        care.db.flush()
    row = Review(
        plan_id=plan.id,
        participant_id=care.pid,
        source_org_id=org.id,
        held_on=held_on,
        attendees=["Participant"],
        plan_version=1,
        recorded_by="test",
    )
    care.db.add(row)
    care.db.commit()
    return row


def read(client: TestClient, care: Care, headers: dict[str, str]) -> Any:
    response = client.get(care.url("/ending"), headers=headers)
    assert response.status_code == 200, response.text
    return response


def statuses(body: dict[str, Any]) -> dict[str, str]:
    return {i["key"]: i["status"] for i in body["items"]}


CONFIRM = {
    "handover_confirmed": True,
    "handover_note": "CMHT care co-ordinator named",
    "participant_told": False,
}


class TestChecklist:
    def test_fresh_checklist(self, client: TestClient, care: Care) -> None:
        response = read(client, care, care.headers(care.coord))
        body = response.json()
        assert response.headers["ETag"] == '"ending-0"'
        assert body["days_to_end"] == 20 and body["intervention_end"] == str(TODAY + timedelta(20))
        assert statuses(body) == {
            "end_date_set": "met",
            "handover_confirmed": "not_met",
            "participant_told": "not_met",
            "plan_reviewed": "not_met",
        }
        assert body["open_items"] == ["handover_confirmed", "participant_told", "plan_reviewed"]
        assert care.events("ending", care.coord)[-1].categories == ["plan"]

    def test_lead_confirms_with_if_match(self, client: TestClient, care: Care) -> None:
        url = care.url("/ending")
        assert_problem(client.put(url, json=CONFIRM, headers=care.headers(care.coord)), 428)
        stale = care.headers(care.coord, **{"If-Match": '"ending-3"'})
        assert_problem(client.put(url, json=CONFIRM, headers=stale), 412)
        bad = care.headers(care.coord, **{"If-Match": '"ending-0"'})
        assert_problem(client.put(url, json={"handover_confirmed": "maybe"}, headers=bad), 422)
        first = client.put(url, json=CONFIRM, headers=bad)
        assert first.status_code == 200, first.text
        assert first.headers["ETag"] == '"ending-1"'
        item = next(i for i in first.json()["items"] if i["key"] == "handover_confirmed")
        assert item["status"] == "met" and item["note"] == "CMHT care co-ordinator named"
        assert len(item["evidence_ids"]) == 1
        again = client.put(url, json=CONFIRM, headers=bad)
        assert_problem(again, 412)  # the same ETag twice: the second is stale
        told = {**CONFIRM, "participant_told": True}
        second = client.put(
            url, json=told, headers=care.headers(care.coord, **{"If-Match": '"ending-1"'})
        )
        assert statuses(second.json())["participant_told"] == "met"
        undo = {**told, "handover_confirmed": False}
        third = client.put(
            url, json=undo, headers=care.headers(care.coord, **{"If-Match": '"ending-2"'})
        )
        assert statuses(third.json())["handover_confirmed"] == "not_met"

    def test_only_the_lead_keeps_it(self, client: TestClient, care: Care) -> None:
        url = care.url("/ending")
        refused = client.put(
            url, json=CONFIRM, headers=care.headers(care.cmht, **{"If-Match": "*"})
        )
        assert_problem(refused, 403)
        event = care.events("ending", care.cmht)[-1]
        assert event.outcome == "denied" and event.withheld[0]["reason"] == "not_lead_org"
        assert_problem(client.put(url, json=CONFIRM, headers={**care.me(), "If-Match": "*"}), 403)
        assert_problem(
            client.put(url, json=CONFIRM, headers=care.headers(care.housing, **{"If-Match": "*"})),
            404,
        )
        assert read(client, care, care.headers(care.coord)).headers["ETag"] == '"ending-0"'

    def test_plan_review_in_the_window(self, client: TestClient, care: Care) -> None:
        review(care, care.coord, TODAY - timedelta(days=30))  # 50 days before the end: too early
        assert (
            statuses(read(client, care, care.headers(care.coord)).json())["plan_reviewed"]
            == "not_met"
        )
        recent = review(care, care.coord, TODAY)
        item = next(
            i
            for i in read(client, care, care.headers(care.coord)).json()["items"]
            if i["key"] == "plan_reviewed"
        )
        assert item["status"] == "met" and item["evidence_ids"] == [str(recent.id)]

    def test_withheld_is_unknown(
        self, client: TestClient, care: Care, world: World, db: Session
    ) -> None:
        """The peer sees coordination's plan but not the CMHT's: a review held by the CMHT is
        `unknown` to it. Probation, on the team without any protocol, knows nothing."""
        review(care, care.cmht, TODAY)
        assert (
            statuses(read(client, care, care.headers(care.coord)).json())["plan_reviewed"] == "met"
        )
        peer = read(client, care, care.headers(care.peer)).json()
        assert statuses(peer)["plan_reviewed"] == "unknown"
        probation = world.org("Probation", OrgKind.probation)
        member(db, care.participant, probation, CareRole.contributor)
        db.commit()
        body = read(client, care, care.headers(probation)).json()
        assert body["intervention_end"] is None and body["days_to_end"] is None
        assert statuses(body)["end_date_set"] == "unknown"
        assert body["withheld"] == [{"category": "plan", "reason": "no_protocol"}]
        assert_problem(client.get(care.url("/ending"), headers=care.headers(care.housing)), 404)


class TestCaseload:
    def test_upcoming_endings(self, client: TestClient, care: Care) -> None:
        url = "/api/v1/caseload/endings"
        rows = client.get(url, headers=care.headers(care.coord)).json()["items"]
        row = next(r for r in rows if r["participant_id"] == str(care.pid))
        assert row["days_to_end"] == 20 and "handover_confirmed" in row["open_items"]
        soon = client.get(url, params={"within_days": 10}, headers=care.headers(care.coord)).json()
        assert all(r["participant_id"] != str(care.pid) for r in soon["items"])
        assert client.get(url, headers=care.headers(care.housing)).json()["items"] == []
        assert_problem(client.get(url, headers=care.me()), 403)
        assert_problem(
            client.get(url, params={"within_days": -1}, headers=care.headers(care.coord)), 422
        )
