"""Inbox/outbox, what the recipient sees of the person, and idempotent creation."""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from app.models.audit import AccessEvent
from app.models.base import utcnow
from app.models.organisation import OrgKind
from app.models.participant import Phase
from app.models.referral import Referral
from tests.api.referral_world import (
    URL,
    ReferralWorld,
    add_consent,
    add_participant,
    make_referral_world,
)
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
        # Custody is attached (and the protocol covers it), so the release date may count.
        # Without it, see TestCustodyInTheInbox.
        cats = ["identity", "custody"]
        urgent = rw.create(urgency="urgent", submit=True, categories=cats)["id"]
        routine = rw.create(urgency="routine", submit=True, categories=cats)["id"]
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


def _released_yesterday(rw: ReferralWorld, phase: Phase = Phase.community) -> None:
    rw.participant.phase = phase
    rw.participant.expected_release_date = date.today() - timedelta(days=1)
    rw.db.add(rw.participant)
    rw.db.commit()


def _box(rw: ReferralWorld, **params: Any) -> dict[str, Any]:
    res = rw.client.get(URL, params=params, headers=rw.recipient())
    assert res.status_code == 200, res.text
    body: dict[str, Any] = res.json()
    return body


def _referral_audit(rw: ReferralWorld) -> list[AccessEvent]:
    return list(
        rw.db.exec(
            select(AccessEvent).where(
                AccessEvent.participant_id == rw.participant.id,
                AccessEvent.actor_org_id == rw.housing.id,
                AccessEvent.resource == "referral",
            )
        ).all()
    )


class TestCustodyInTheInbox:
    """Phase and release date are custody: a referral-only receiver without `custody`
    attached learns neither through the phase filter nor through the overdue flag."""

    def test_phase_filter_matches_nothing_when_custody_is_withheld(self, rw: ReferralWorld) -> None:
        rid = rw.create(categories=["identity"], submit=True)["id"]
        assert _ids(rw.client.get(URL, headers=rw.recipient())) == [rid]
        for phase in Phase:
            rw.participant.phase = phase
            rw.db.add(rw.participant)
            rw.db.commit()
            # Whatever the phase, every phase filter answers the same: nothing.
            for asked in Phase:
                body = _box(rw, phase=asked)
                assert body == {"items": [], "next_cursor": None}, (phase, asked)

    def test_overdue_ignores_the_withheld_release_date(self, rw: ReferralWorld) -> None:
        rid = rw.create(categories=["identity"], urgency="routine", submit=True)["id"]
        before = rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).json()
        _released_yesterday(rw)
        one = rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).json()
        assert one["overdue"] is False
        assert {k: v for k, v in one.items() if k != "transitions"} == {
            k: v for k, v in before.items() if k != "transitions"
        }
        assert [r["overdue"] for r in _box(rw)["items"]] == [False]
        assert _ids(rw.client.get(URL, params={"overdue": True}, headers=rw.recipient())) == []
        assert _ids(rw.client.get(URL, params={"overdue": False}, headers=rw.recipient())) == [rid]
        # The audit records referral reads only, never custody.
        events = _referral_audit(rw)
        assert events and all("custody" not in e.categories for e in events)
        # A late reply is referral data: still overdue for the receiver.
        row = rw.db.get(Referral, uuid.UUID(rid))
        assert row is not None
        row.submitted_at = utcnow() - timedelta(days=30)
        rw.db.add(row)
        rw.db.commit()
        assert rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).json()["overdue"] is True
        assert _ids(rw.client.get(URL, params={"overdue": True}, headers=rw.recipient())) == [rid]

    def test_with_custody_attached_the_receiver_still_can(self, rw: ReferralWorld) -> None:
        rid = rw.create(categories=["identity", "custody"], urgency="routine", submit=True)["id"]
        assert _ids(rw.client.get(URL, params={"phase": "in_prison"}, headers=rw.recipient())) == [
            rid
        ]
        assert _ids(rw.client.get(URL, params={"overdue": True}, headers=rw.recipient())) == []
        _released_yesterday(rw)
        assert _ids(rw.client.get(URL, params={"phase": "community"}, headers=rw.recipient())) == [
            rid
        ]
        assert _ids(rw.client.get(URL, params={"phase": "in_prison"}, headers=rw.recipient())) == []
        assert rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).json()["overdue"] is True
        assert _ids(rw.client.get(URL, params={"overdue": True}, headers=rw.recipient())) == [rid]
        assert _ids(rw.client.get(URL, params={"overdue": False}, headers=rw.recipient())) == []
        # Using the release date for the flag is recorded as a custody disclosure.
        assert any("custody" in e.categories for e in _referral_audit(rw))

    def test_pages_do_not_hint_at_withheld_rows(self, rw: ReferralWorld) -> None:
        """Bo's custody is attached, Sam's is not. With one row per page, the phase filter
        gives the same pages whatever Sam's phase: no short page, no extra cursor."""
        bo = add_participant(rw.db, rw.coord, given_name="Bo")
        rw.db.commit()
        bo_rid = rw.create(
            participant_id=str(bo.id), categories=["identity", "custody"], submit=True
        )["id"]
        rw.create(categories=["identity"], submit=True)  # Sam's, newer: scanned first
        pages = []
        for phase in (Phase.in_prison, Phase.community):
            rw.participant.phase = phase
            rw.db.add(rw.participant)
            rw.db.commit()
            pages.append(_box(rw, phase="in_prison", limit=1))
        assert pages[0] == pages[1]
        assert [r["id"] for r in pages[0]["items"]] == [bo_rid]
        assert pages[0]["next_cursor"] is None
        # Paging through more rows than one scan batch still ends on a full page.
        more = [
            rw.create(participant_id=str(bo.id), categories=["identity", "custody"], submit=True)
            for _ in range(3)
        ]
        for _ in range(60):
            rw.create(categories=["identity"], submit=True)
        first = _box(rw, phase="in_prison", limit=2)
        assert [r["id"] for r in first["items"]] == [m["id"] for m in more[::-1][:2]]
        second = _box(rw, phase="in_prison", limit=2, cursor=first["next_cursor"])
        assert [r["id"] for r in second["items"]] == [more[0]["id"], bo_rid]
        assert second["next_cursor"] is None


class TestCustodyInTheParticipantList:
    PEOPLE = "/api/v1/participants"

    def test_phase_filter_needs_custody(self, rw: ReferralWorld) -> None:
        rw.create(categories=["identity"], submit=True)
        h = rw.recipient()
        listed = rw.client.get(self.PEOPLE, headers=h).json()["items"]
        assert [p["id"] for p in listed] == [str(rw.participant.id)]
        assert "phase" not in listed[0]
        for phase in Phase:
            res = rw.client.get(self.PEOPLE, params={"phase": phase}, headers=h)
            assert res.json() == {"items": [], "next_cursor": None}, phase

    def test_phase_filter_with_custody_attached(self, rw: ReferralWorld) -> None:
        rw.create(categories=["identity", "custody"], submit=True)
        h = rw.recipient()
        res = rw.client.get(self.PEOPLE, params={"phase": "in_prison"}, headers=h).json()
        assert [p["id"] for p in res["items"]] == [str(rw.participant.id)]
        res = rw.client.get(self.PEOPLE, params={"phase": "community"}, headers=h).json()
        assert res["items"] == []


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
