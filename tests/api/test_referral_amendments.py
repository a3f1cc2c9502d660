"""Referrals stay alive after sending: amendments with a change log (re-checked with the
sharing decision), and coded decline and withdraw reasons."""

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from app.models.audit import AccessEvent
from app.models.events import DomainEvent
from app.models.notice import Notice
from app.models.referral import Referral, ReferralAmendment, ReferralTransition
from tests.api.referral_world import URL, ReferralWorld, add_consent, make_referral_world
from tests.fixtures import World


@pytest.fixture
def rw(world: World, db: Session, client: TestClient) -> ReferralWorld:
    return make_referral_world(world, db, client)


def patch(rw: ReferralWorld, rid: str, version: int, headers: dict[str, str], **body: Any) -> Any:
    h = headers | {"If-Match": f'"r-{version}"'}
    return rw.client.patch(f"{URL}/{rid}", json=body, headers=h)


def count(db: Session, model: type, **where: object) -> int:
    stmt = select(func.count()).select_from(model)
    for name, value in where.items():
        stmt = stmt.where(getattr(model, name) == value)
    return int(db.exec(stmt).one())


def amended_notices(rw: ReferralWorld, rid: str) -> int:
    return count(rw.db, Notice, kind="referral_amended", subject_id=rid)


class TestAmendments:
    def test_change_log_reaches_both_parties(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True, requested_by_date="2027-01-15")["id"]
        res = patch(
            rw,
            rid,
            1,
            rw.referrer(),
            urgency="urgent",
            requested_by_date="2026-12-20",
            reason="Needs supported accommodation on release.",  # unchanged: not logged
            change_reason="Release brought forward by the court.",
        )
        assert res.status_code == 200, res.text
        assert res.headers["ETag"] == '"r-2"'
        body = res.json()
        assert body["urgency"] == "urgent" and body["version"] == 2
        log = {a["field"]: a for a in body["amendments"]}
        assert set(log) == {"urgency", "requested_by_date"}
        assert (log["urgency"]["old_value"], log["urgency"]["new_value"]) == ("soon", "urgent")
        assert log["requested_by_date"]["old_value"] == "2027-01-15"
        assert log["requested_by_date"]["new_value"] == "2026-12-20"
        for entry in log.values():
            assert entry["reason"] == "Release brought forward by the court."
            assert entry["actor_org_id"] == str(rw.coord.id) and entry["version"] == 2
            assert entry["actor"] and entry["at"]
        # The recipient sees the same history, and was told.
        seen = rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).json()
        assert {a["field"] for a in seen["amendments"]} == {"urgency", "requested_by_date"}
        assert amended_notices(rw, rid) == 1
        events = rw.db.exec(
            select(DomainEvent.type).where(col(DomainEvent.data)["referral_id"].as_string() == rid)
        ).all()
        assert "referral.amended" in events
        audit = rw.db.exec(
            select(AccessEvent)
            .where(AccessEvent.resource_id == rid, AccessEvent.actor_org_id == rw.coord.id)
            .order_by(col(AccessEvent.seq))
        ).all()
        assert [a.action for a in audit] == ["create", "update"]  # the create, the PATCH
        assert audit[-1].outcome == "allowed" and "referrals" in audit[-1].categories

    def test_adding_a_category_the_recipient_may_not_see_is_refused(
        self, rw: ReferralWorld
    ) -> None:
        rid = rw.create(submit=True)["id"]
        rw.act(rid, "accept", rw.recipient())
        res = patch(
            rw,
            rid,
            2,
            rw.referrer(),
            categories=["identity", "mental_health"],
            urgency="urgent",
            change_reason="They asked for their mental health to be shared.",
        )
        assert res.status_code == 422, res.text
        assert res.headers["content-type"] == "application/problem+json"
        assert [e["category"] for e in res.json()["errors"]] == ["mental_health"]
        # Nothing changed: the referral, its log, notices and events.
        rw.db.expire_all()
        row = rw.db.get(Referral, uuid.UUID(rid))
        assert row is not None
        assert (row.categories, row.urgency, row.version) == (["identity"], "soon", 2)
        assert count(rw.db, ReferralAmendment, referral_id=row.id) == 0
        assert amended_notices(rw, rid) == 0
        assert count(rw.db, DomainEvent, type="referral.amended") == 0
        refusal = rw.db.exec(
            select(AccessEvent)
            .where(AccessEvent.resource_id == rid, AccessEvent.actor_org_id == rw.coord.id)
            .order_by(col(AccessEvent.seq).desc())
        ).first()
        assert refusal is not None
        assert (refusal.action, refusal.outcome) == ("amend", "denied")  # on the record
        seen = rw.client.get(f"{URL}/{rid}", headers=rw.recipient()).json()
        assert seen["categories"] == ["identity"] and seen["amendments"] == []

    def test_adding_a_category_with_its_consent_and_removing_one(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True, categories=["identity", "custody"])["id"]
        refused = patch(
            rw, rid, 1, rw.referrer(), categories=["identity", "contact"], change_reason="Phone"
        )
        assert refused.status_code == 422  # contact needs the person's consent first
        add_consent(rw.db, rw.participant, ["contact"], rw.housing)
        res = patch(
            rw,
            rid,
            1,
            rw.referrer(),
            categories=["identity", "contact"],
            change_reason="They agreed to share their phone number.",
        )
        assert res.status_code == 200, res.text
        (entry,) = res.json()["amendments"]
        assert entry["field"] == "categories"
        assert entry["old_value"] == ["custody", "identity"]
        assert entry["new_value"] == ["contact", "identity"]

    def test_who_when_and_what(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        change = {"urgency": "urgent", "change_reason": "Deteriorating"}
        assert (
            rw.client.patch(f"{URL}/{rid}", json=change, headers=rw.referrer()).status_code == 428
        )
        assert patch(rw, rid, 1, rw.recipient(), **change).status_code == 403
        assert patch(rw, rid, 1, rw.referrer(), urgency="urgent").status_code == 422
        same = patch(rw, rid, 1, rw.referrer(), urgency="soon", change_reason="No change")
        assert same.status_code == 422
        assert (
            patch(rw, rid, 1, rw.referrer(), urgency=None, change_reason="x" * 5).status_code == 422
        )
        rw.act(rid, "decline", rw.recipient(), reason_code="no_capacity")
        assert patch(rw, rid, 2, rw.referrer(), **change).status_code == 409
        rw.db.expire_all()
        assert count(rw.db, ReferralAmendment, referral_id=uuid.UUID(rid)) == 0

    def test_drafts_change_without_a_log(self, rw: ReferralWorld) -> None:
        rid = rw.create()["id"]
        res = patch(rw, rid, 1, rw.referrer(), urgency="urgent")
        assert res.status_code == 200, res.text
        assert res.json()["amendments"] == []
        assert amended_notices(rw, rid) == 0


class TestCodedReasons:
    def test_decline_with_a_code_and_text(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        res = rw.act(
            rid,
            "decline",
            rw.recipient(),
            reason_code="no_capacity",
            reason="Waiting list 6 months",
        )
        assert res.status_code == 200, res.text
        # The recipient's closed view keeps its own code and text.
        assert res.json()["decline_code"] == "no_capacity"
        assert res.json()["decline_reason"] == "Waiting list 6 months"
        body = rw.client.get(f"{URL}/{rid}", headers=rw.referrer()).json()
        assert body["decline_code"] == "no_capacity"
        assert body["transitions"][-1]["reason_code"] == "no_capacity"

    def test_decline_code_alone_or_text_alone(self, rw: ReferralWorld) -> None:
        coded = rw.create(submit=True)["id"]
        res = rw.act(coded, "decline", rw.recipient(), reason_code="not_eligible")
        assert res.status_code == 200 and res.json()["decline_code"] == "not_eligible"
        text = rw.create(submit=True)["id"]
        res = rw.act(text, "decline", rw.recipient(), reason="Outside our catchment")
        assert res.status_code == 200 and res.json()["decline_code"] == "other"

    @pytest.mark.parametrize(
        ("action", "body"),
        [
            ("decline", {}),
            ("decline", {"reason_code": "other"}),  # `other` needs the text
            ("decline", {"reason_code": "needs_met_elsewhere", "reason": "Elsewhere"}),
            ("decline", {"reason_code": "bored"}),
            ("accept", {"reason_code": "no_capacity"}),
            ("withdraw", {"reason_code": "no_capacity"}),
        ],
    )
    def test_bad_codes_refused_and_nothing_changes(
        self, rw: ReferralWorld, action: str, body: dict[str, str]
    ) -> None:
        rid = rw.create(submit=True)["id"]
        headers = rw.referrer() if action == "withdraw" else rw.recipient()
        res = rw.act(rid, action, headers, **body)
        assert res.status_code == 422, res.text
        assert res.headers["content-type"] == "application/problem+json"
        rw.db.expire_all()
        row = rw.db.get(Referral, uuid.UUID(rid))
        assert row is not None and row.status == "submitted" and row.decline_code is None

    def test_withdraw_codes(self, rw: ReferralWorld) -> None:
        rid = rw.create(submit=True)["id"]
        res = rw.act(
            rid, "withdraw", rw.referrer(), reason_code="returned_to_custody", reason="Recalled"
        )
        assert res.status_code == 200, res.text
        body = rw.client.get(f"{URL}/{rid}", headers=rw.referrer()).json()
        assert (body["withdraw_code"], body["withdraw_reason"]) == (
            "returned_to_custody",
            "Recalled",
        )
        plain = rw.create(submit=True)["id"]
        assert rw.act(plain, "withdraw", rw.referrer()).json()["withdraw_code"] == "other"
        transitions = rw.db.exec(
            select(ReferralTransition.reason_code).where(
                ReferralTransition.referral_id == uuid.UUID(plain),
                ReferralTransition.to_status == "withdrawn",
            )
        ).all()
        assert transitions == ["other"]
