"""Webhooks delivered to a real receiver on loopback, verified with the `standardwebhooks`
package (not the project's code): signed, retried, disabled on 410, redelivered, and
decided by the sharing core when sent, not when the event happened."""

import uuid

import pytest
from sqlmodel import col, select
from standardwebhooks import Webhook, WebhookVerificationError

from app.models.audit import AccessEvent
from app.models.events import DomainEvent, WebhookDelivery, WebhookSubscription
from app.models.notice import Notice
from app.services.worker import run_once
from tests.integration.world import HookWorld, Receiver, payload

HOOKS = "/api/v1/webhooks"


def _deliveries(hw: HookWorld, sub_id: str) -> list[dict[str, object]]:
    res = hw.client.get(f"{HOOKS}/{sub_id}/deliveries", headers=hw.housing_admin)
    assert res.status_code == 200, res.text
    return list(res.json()["items"])


def _audit(hw: HookWorld, action: str) -> list[AccessEvent]:
    return list(
        hw.db.exec(
            select(AccessEvent).where(
                AccessEvent.participant_id == hw.participant.id, AccessEvent.action == action
            )
        ).all()
    )


class TestSignedDelivery:
    def test_delivery_verifies_with_standardwebhooks(
        self, hw: HookWorld, receiver: Receiver
    ) -> None:
        sub = hw.subscribe(receiver.url)
        appointment = hw.book()
        assert run_once(hw.sessions) == 1
        assert len(receiver.received) == 1
        got = receiver.received[0]
        data = Webhook(sub["secret"]).verify(got.body, got.headers)
        assert data["type"] == "appointment.booked"
        assert data["data"]["appointment_id"] == appointment["id"]
        assert data["data"]["participant_id"] == str(hw.participant.id)
        assert data["data"]["detail_url"].endswith("/appointments")
        # thin payload: ids and a link only, never the person's data
        assert "Sam" not in got.body.decode() and "07700" not in got.body.decode()
        assert set(data) == {"type", "timestamp", "data"}
        # a wrong secret does not verify
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(got.body, got.headers)
        [row] = _deliveries(hw, sub["id"])
        assert row["status"] == "delivered" and row["last_status_code"] == 200
        assert row["event_type"] == "appointment.booked"

    def test_delivery_is_in_the_disclosure_log(self, hw: HookWorld, receiver: Receiver) -> None:
        sub = hw.subscribe(receiver.url)
        hw.book()
        run_once(hw.sessions)
        [event] = _audit(hw, "webhook_delivery")
        assert event.outcome == "allowed"
        assert event.actor == f"webhook:{sub['id']}"
        assert event.actor_org_id == hw.housing.id
        assert event.categories == ["appointments"]
        assert event.basis[0]["basis"] == "consent"
        log = hw.client.get(
            f"/api/v1/participants/{hw.participant.id}/disclosures",
            headers=hw.world.headers(hw.coord, "participant", participant_id=hw.participant.id),
        )
        assert log.status_code == 200
        assert any(e["action"] == "webhook_delivery" for e in log.json()["items"])

    def test_only_subscribed_types_are_sent(self, hw: HookWorld, receiver: Receiver) -> None:
        hw.subscribe(receiver.url, "risk_alert.raised")
        hw.book()
        assert run_once(hw.sessions) == 0
        assert receiver.received == []


class TestSharingAtSendTime:
    def test_consent_withdrawn_in_between_is_not_delivered(
        self, hw: HookWorld, receiver: Receiver
    ) -> None:
        sub = hw.subscribe(receiver.url)
        hw.book()
        hw.withdraw()  # after the event, before the worker sends it
        run_once(hw.sessions)
        assert receiver.received == []
        [row] = _deliveries(hw, sub["id"])
        assert row["status"] == "withheld"
        assert row["last_error"] == "withheld: consent_withdrawn"
        [denied] = _audit(hw, "webhook_delivery")
        assert denied.outcome == "denied"
        assert denied.withheld == [{"category": "appointments", "reason": "consent_withdrawn"}]

    def test_organisation_without_relationship_hears_nothing(
        self, hw: HookWorld, receiver: Receiver
    ) -> None:
        stranger = hw.world.org("Stranger", "housing")
        res = hw.client.post(
            HOOKS,
            json={"url": receiver.url, "event_types": ["appointment.booked"]},
            headers=hw.world.headers(stranger, "org_admin"),
        )
        assert res.status_code == 201
        hw.book()
        run_once(hw.sessions)
        assert receiver.received == []
        sub_id = uuid.UUID(res.json()["id"])
        stmt = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub_id)
        assert hw.db.exec(stmt).all() == []


class TestRetries:
    def test_failing_receiver_gets_retries_then_success(
        self, hw: HookWorld, receiver: Receiver
    ) -> None:
        receiver.script = [(500, {}), (503, {})]
        sub = hw.subscribe(receiver.url)
        hw.book()
        for _ in range(3):
            run_once(hw.sessions)
        assert len(receiver.received) == 3
        ids = {r.headers["webhook-id"] for r in receiver.received}
        assert len(ids) == 1  # the same webhook-id on every retry: receivers deduplicate
        for got in receiver.received:
            Webhook(sub["secret"]).verify(got.body, got.headers)
        [row] = _deliveries(hw, sub["id"])
        assert row["status"] == "delivered" and row["attempts"] == 3

    def test_exhausted_retries_disable_and_notify(self, hw: HookWorld, receiver: Receiver) -> None:
        receiver.script = [(500, {})] * 3
        sub = hw.subscribe(receiver.url)
        hw.book()
        for _ in range(4):
            run_once(hw.sessions)
        assert len(receiver.received) == 3  # first try + the two of the schedule
        read = hw.client.get(f"{HOOKS}/{sub['id']}", headers=hw.housing_admin).json()
        assert read["active"] is False and read["disabled_reason"] == "retries_exhausted"
        notices = hw.client.get("/api/v1/notices", headers=hw.housing_admin).json()["items"]
        assert [n["kind"] for n in notices] == ["webhook_disabled"]

    def test_gone_disables_the_subscription(self, hw: HookWorld, receiver: Receiver) -> None:
        receiver.script = [(410, {})]
        sub = hw.subscribe(receiver.url)
        hw.book()
        run_once(hw.sessions)
        hw.book(days=5)
        run_once(hw.sessions)
        assert len(receiver.received) == 1
        stored = hw.db.get(WebhookSubscription, uuid.UUID(sub["id"]))
        assert stored is not None and not stored.active and stored.disabled_reason == "gone"
        assert hw.db.exec(select(Notice).where(Notice.organisation_id == hw.housing.id)).all()

    def test_retry_after_is_honoured(self, hw: HookWorld, receiver: Receiver) -> None:
        receiver.script = [(429, {"Retry-After": "3600"})]
        sub = hw.subscribe(receiver.url)
        hw.book()
        run_once(hw.sessions)
        run_once(hw.sessions)
        assert len(receiver.received) == 1  # not retried before the hour is up
        [row] = _deliveries(hw, sub["id"])
        assert row["status"] == "pending" and row["last_status_code"] == 429


class TestRedeliver:
    def test_redeliver_sends_again_with_the_same_id(
        self, hw: HookWorld, receiver: Receiver
    ) -> None:
        sub = hw.subscribe(receiver.url)
        hw.book()
        run_once(hw.sessions)
        [row] = _deliveries(hw, sub["id"])
        res = hw.client.post(f"{HOOKS}/deliveries/{row['id']}/redeliver", headers=hw.housing_admin)
        assert res.status_code == 202, res.text
        assert res.json()["redelivery_of"] == row["id"]
        run_once(hw.sessions)
        assert len(receiver.received) == 2
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert payload(first) == payload(second)

    def test_other_organisation_cannot_redeliver(self, hw: HookWorld, receiver: Receiver) -> None:
        sub = hw.subscribe(receiver.url)
        hw.book()
        run_once(hw.sessions)
        [row] = _deliveries(hw, sub["id"])
        res = hw.client.post(
            f"{HOOKS}/deliveries/{row['id']}/redeliver",
            headers=hw.world.headers(hw.coord, "org_admin"),
        )
        assert res.status_code == 404
        assert len(_deliveries(hw, sub["id"])) == 1


class TestRotation:
    def test_both_signatures_during_grace(self, hw: HookWorld, receiver: Receiver) -> None:
        sub = hw.subscribe(receiver.url)
        res = hw.client.post(
            f"{HOOKS}/{sub['id']}/rotate-secret", json={"grace_hours": 1}, headers=hw.housing_admin
        )
        assert res.status_code == 200, res.text
        new = res.json()["secret"]
        assert new.startswith("whsec_") and new != sub["secret"]
        hw.book()
        run_once(hw.sessions)
        [got] = receiver.received
        assert len(got.headers["webhook-signature"].split(" ")) == 2
        Webhook(new).verify(got.body, got.headers)
        Webhook(sub["secret"]).verify(got.body, got.headers)

    def test_no_grace_means_only_the_new_secret(self, hw: HookWorld, receiver: Receiver) -> None:
        sub = hw.subscribe(receiver.url)
        res = hw.client.post(
            f"{HOOKS}/{sub['id']}/rotate-secret", json={"grace_hours": 0}, headers=hw.housing_admin
        )
        new = res.json()["secret"]
        hw.book()
        run_once(hw.sessions)
        [got] = receiver.received
        Webhook(new).verify(got.body, got.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(sub["secret"]).verify(got.body, got.headers)


def test_a_leased_delivery_is_retried_after_a_crash(hw: HookWorld, receiver: Receiver) -> None:
    """A worker that dies between claiming and recording leaves the delivery pending."""
    from datetime import timedelta

    from app.models.base import utcnow
    from app.services import delivery

    hw.subscribe(receiver.url)
    hw.book()
    with hw.sessions() as s:
        delivery.fan_out(s, utcnow())
    with hw.sessions() as s:
        assert len(delivery.claim(s, utcnow(), 10)) == 1  # ... and the worker dies here
    assert run_once(hw.sessions) == 0  # leased: nobody else sends it meanwhile
    with hw.sessions() as s:
        later = utcnow() + timedelta(minutes=5)
        plans = delivery.claim(s, later, 10)
    assert len(plans) == 1
    assert (
        hw.db.exec(
            select(DomainEvent).where(
                col(DomainEvent.dispatched_at).is_(None),
                DomainEvent.participant_id == hw.participant.id,
            )
        ).all()
        == []
    )
