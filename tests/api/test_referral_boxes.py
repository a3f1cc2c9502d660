"""Inbox/outbox, what the recipient sees of the person, and idempotent creation."""

import uuid
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.models.base import utcnow
from app.models.organisation import OrgKind
from app.models.referral import Referral
from tests.api.referral_world import URL, ReferralWorld, add_consent, make_referral_world
from tests.fixtures import World


@pytest.fixture
def rw(world: World, db: Session, client: TestClient) -> ReferralWorld:
    return make_referral_world(world, db, client)


def _ids(res: object) -> list[str]:
    assert res.status_code == 200, res.text  # type: ignore[attr-defined]
    return [r["id"] for r in res.json()["items"]]  # type: ignore[attr-defined]


class TestBoxes:
    def test_anonymous_401(self, client: TestClient) -> None:
        assert client.get(URL).status_code == 401

    def test_missing_scope_403(self, rw: ReferralWorld) -> None:
        h = rw.world.headers(rw.coord, scope="participants:read")
        assert rw.client.get(URL, headers=h).status_code == 403

    def test_inbox_outbox_and_filters(self, rw: ReferralWorld) -> None:
        draft = rw.create(urgency="routine")["id"]
        urgent = rw.create(urgency="urgent", submit=True)["id"]
        soon = rw.create(urgency="soon", submit=True)["id"]
        out = _ids(rw.client.get(URL, params={"box": "outbox"}, headers=rw.referrer()))
        assert out == [soon, urgent, draft]  # newest first
        inbox = _ids(rw.client.get(URL, params={"box": "inbox"}, headers=rw.recipient()))
        assert inbox == [soon, urgent]  # drafts are not sent yet
        h = rw.recipient()
        assert _ids(rw.client.get(URL, params={"urgency": "urgent"}, headers=h)) == [urgent]
        rw.act(soon, "accept", h)
        assert _ids(rw.client.get(URL, params={"status": "accepted"}, headers=h)) == [soon]
        assert _ids(rw.client.get(URL, params={"phase": "in_prison"}, headers=h)) == [soon, urgent]
        assert _ids(rw.client.get(URL, params={"phase": "community"}, headers=h)) == []
        stranger = rw.world.headers(rw.world.org("Peer", OrgKind.peer_support))
        assert _ids(rw.client.get(URL, params={"box": "inbox"}, headers=stranger)) == []

    def test_overdue_by_urgency_and_by_release(self, rw: ReferralWorld) -> None:
        urgent = rw.create(urgency="urgent", submit=True)["id"]
        routine = rw.create(urgency="routine", submit=True)["id"]
        for rid, hours in ((urgent, 25), (routine, 25)):
            row = rw.db.get(Referral, uuid.UUID(rid))
            assert row is not None
            row.submitted_at = utcnow() - timedelta(hours=hours)
            rw.db.add(row)
        rw.db.flush()
        h = rw.recipient()
        # 25 hours is late for urgent (24h) but not for routine (240h).
        assert _ids(rw.client.get(URL, params={"overdue": True}, headers=h)) == [urgent]
        assert _ids(rw.client.get(URL, params={"overdue": False}, headers=h)) == [routine]
        # Release day has come and the routine one is still not in progress: overdue too.
        rw.participant.expected_release_date = date.today()
        rw.db.add(rw.participant)
        rw.db.flush()
        overdue = _ids(rw.client.get(URL, params={"overdue": True}, headers=h))
        assert sorted(overdue) == sorted([urgent, routine])
        one = rw.client.get(f"{URL}/{routine}", headers=h).json()
        assert one["overdue"] is True

    def test_bad_box_422(self, rw: ReferralWorld) -> None:
        res = rw.client.get(URL, params={"box": "spam"}, headers=rw.referrer())
        assert res.status_code == 422


class TestRecipientSeesOnlyAttached:
    def test_attached_only_until_accepted(self, rw: ReferralWorld) -> None:
        add_consent(rw.db, rw.participant, ["contact"], rw.housing)
        person = f"/api/v1/participants/{rw.participant.id}"
        h = rw.recipient()
        assert rw.client.get(person, headers=h).status_code == 404  # no relationship yet
        rid = rw.create(categories=["identity"], submit=True)["id"]
        seen = rw.client.get(person, headers=h).json()
        assert seen["given_name"] == "Sam"
        assert "phone" not in seen and "establishment" not in seen
        withheld = {w["category"]: w["reason"] for w in seen["withheld"]}
        assert withheld["contact"] == "not_attached_to_referral"
        assert withheld["custody"] == "not_attached_to_referral"
        rw.act(rid, "accept", h)
        after = rw.client.get(person, headers=h).json()
        assert after["phone"] == "07700 900123"  # consent-based protocol
        assert after["establishment"] == "HMP Northtown"  # public-task protocol
        assert {w["category"] for w in after["withheld"]} == {"protected_characteristics", "plan"}

    def test_declined_ends_the_relationship(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        rw.act(rid, "decline", rw.recipient(), reason="No capacity")
        person = f"/api/v1/participants/{rw.participant.id}"
        assert rw.client.get(person, headers=rw.recipient()).status_code == 404


class TestIdempotency:
    def _partner(self, rw: ReferralWorld) -> dict[str, str]:
        return rw.world.client_headers(
            rw.coord, ["participants:read", "referrals:read", "referrals:write"]
        )

    def test_partner_without_key_428(self, rw: ReferralWorld) -> None:
        res = rw.client.post(URL, json=rw.body(), headers=self._partner(rw))
        assert res.status_code == 428
        assert res.headers["content-type"] == "application/problem+json"

    def test_retry_replays_and_other_body_422(self, rw: ReferralWorld) -> None:
        h = self._partner(rw) | {"Idempotency-Key": "ref-0001"}
        first = rw.client.post(URL, json=rw.body(submit=True), headers=h)
        again = rw.client.post(URL, json=rw.body(submit=True), headers=h)
        assert first.status_code == again.status_code == 201
        assert first.json()["id"] == again.json()["id"]
        assert again.headers["Idempotent-Replayed"] == "true"
        other = rw.client.post(URL, json=rw.body(reason="Something else"), headers=h)
        assert other.status_code == 422
        count = rw.db.exec(
            select(func.count())
            .select_from(Referral)
            .where(Referral.participant_id == rw.participant.id)
        ).one()
        assert count == 1

    def test_refused_submission_does_not_burn_the_key(self, rw: ReferralWorld) -> None:
        h = self._partner(rw) | {"Idempotency-Key": "ref-0002"}
        refused = rw.client.post(URL, json=rw.body(categories=["contact"], submit=True), headers=h)
        assert refused.status_code == 422
        add_consent(rw.db, rw.participant, ["contact"], rw.housing)
        ok = rw.client.post(URL, json=rw.body(categories=["contact"], submit=True), headers=h)
        assert ok.status_code == 201
