"""Referrals stay alive after sending: milestones reach the referrer; the referrer can ask."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.models.events import DomainEvent
from app.models.organisation import Organisation
from app.models.referral import Referral, ReferralStatus, Urgency
from tests.api.care_world import Care, assert_problem, build_care
from tests.fixtures import World


@pytest.fixture
def care(world: World, db: Session) -> Care:
    return build_care(world, db)


def referral(care: Care, status: ReferralStatus = ReferralStatus.accepted) -> Referral:
    row = Referral(
        participant_id=care.pid,
        from_org_id=care.coord.id,
        to_org_id=care.housing.id,
        reason="Needs supported accommodation on release.",
        urgency=Urgency.routine,
        categories=["identity"],
        status=status,
        created_by="test",
    )
    care.db.add(row)
    care.db.commit()
    return row


def milestone(client: TestClient, care: Care, ref: Referral, org: Organisation, **kw: Any) -> Any:
    body = {"kind": "first_contact_made", "occurred_on": "2026-11-25", **kw}
    url = f"/api/v1/referrals/{ref.id}/milestones"
    return client.post(url, json=body, headers=care.headers(org))


def notices(client: TestClient, care: Care, org: Organisation) -> list[str]:
    items = client.get("/api/v1/notices", headers=care.headers(org)).json()["items"]
    return [n["kind"] for n in items if n["participant_id"] == str(care.pid)]


class TestMilestones:
    def test_recipient_records_and_referrer_hears(self, client: TestClient, care: Care) -> None:
        ref = referral(care)
        created = milestone(client, care, ref, care.housing, note="Phoned; viewing booked.")
        assert created.status_code == 201, created.text
        assert created.json()["source_org_id"] == str(care.housing.id)
        assert notices(client, care, care.coord) == ["referral_milestone"]
        milestone(client, care, ref, care.housing, kind="attended", occurred_on="2026-11-27")
        url = f"/api/v1/referrals/{ref.id}/milestones"
        for org in (care.coord, care.housing):
            listed = client.get(url, headers=care.headers(org)).json()
            assert [m["kind"] for m in listed] == ["first_contact_made", "attended"]
        assert_problem(client.get(url, headers=care.headers(care.cmht)), 404)
        event = care.events("referral", care.housing)[-1]
        assert event.outcome == "allowed" and event.categories == ["referrals"]
        # Partner systems hear of each milestone through the outbox (ids only).
        raised = care.db.exec(
            select(DomainEvent).where(DomainEvent.type == "referral.milestone_recorded")
        ).all()
        assert [e.data["referral_id"] for e in raised] == [str(ref.id)] * 2
        assert {e.data["milestone_id"] for e in raised} == {str(m["id"]) for m in listed}
        assert raised[0].data["detail_url"] == f"/api/v1/referrals/{ref.id}"

    def test_only_the_recipient_and_only_while_live(
        self, client: TestClient, care: Care, db: Session
    ) -> None:
        ref = referral(care)
        assert_problem(milestone(client, care, ref, care.coord), 403)
        event = care.events("referral", care.coord)[-1]
        assert event.outcome == "denied" and event.withheld[0]["reason"] == "not_receiving_org"
        assert_problem(milestone(client, care, ref, care.cmht), 404)
        assert_problem(milestone(client, care, ref, care.housing, kind="vanished"), 422)
        assert_problem(milestone(client, care, ref, care.housing, occurred_on="soon"), 422)
        pending = referral(care, ReferralStatus.submitted)
        assert_problem(milestone(client, care, pending, care.housing), 409)
        url = f"/api/v1/referrals/{ref.id}/milestones"
        assert client.get(url, headers=care.headers(care.coord)).json() == []
        assert notices(client, care, care.coord) == []
        raised = select(DomainEvent).where(DomainEvent.type == "referral.milestone_recorded")
        assert db.exec(raised).all() == []

    def test_the_action_route_still_works(self, client: TestClient, care: Care) -> None:
        """Milestone routes sit beside POST /referrals/{id}/{action}: actions still act."""
        ref = referral(care, ReferralStatus.submitted)
        url = f"/api/v1/referrals/{ref.id}/accept"
        accepted = client.post(url, json={}, headers=care.headers(care.housing))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"
        bogus = client.post(
            f"/api/v1/referrals/{ref.id}/vanish", json={}, headers=care.headers(care.housing)
        )
        assert bogus.status_code in (404, 422)


class TestUpdateRequests:
    def test_referrer_asks_recipient_hears(self, client: TestClient, care: Care) -> None:
        ref = referral(care, ReferralStatus.submitted)
        url = f"/api/v1/referrals/{ref.id}/update-requests"
        asked = client.post(
            url, json={"note": "Release is on Friday."}, headers=care.headers(care.coord)
        )
        assert asked.status_code == 201, asked.text
        assert notices(client, care, care.housing) == ["referral_update_requested"]
        assert_problem(client.post(url, json={}, headers=care.headers(care.housing)), 403)
        assert_problem(client.post(url, json={}, headers=care.headers(care.cmht)), 404)
        assert_problem(
            client.post(url, json={"note": "x" * 601}, headers=care.headers(care.coord)), 422
        )
        done = referral(care, ReferralStatus.completed)
        closed = f"/api/v1/referrals/{done.id}/update-requests"
        assert_problem(client.post(closed, json={}, headers=care.headers(care.coord)), 409)
        assert notices(client, care, care.housing) == ["referral_update_requested"]
