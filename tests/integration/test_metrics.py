"""Webhook metrics come from the database: the same on every worker, no participant ids."""

from app.services.delivery_metrics import render_delivery_metrics
from app.services.worker import run_once
from tests.integration.world import HookWorld, Receiver


def _value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split(" ")[-1])
    raise AssertionError(f"{name} missing")


def test_outbox_depth_and_outcomes(hw: HookWorld, receiver: Receiver) -> None:
    receiver.script = [(500, {})]
    hw.subscribe(receiver.url)
    # Figures are database-wide (on PostgreSQL other tests' committed rows count too):
    # compare with a reading taken before this test's work.
    start = render_delivery_metrics(hw.db)
    hw.book()
    before = render_delivery_metrics(hw.db)
    assert (
        _value(before, "throughcare_outbox_depth") == _value(start, "throughcare_outbox_depth") + 1
    )
    run_once(hw.sessions)  # fails once: pending again
    run_once(hw.sessions)  # delivered
    after = render_delivery_metrics(hw.db)

    def grew(name: str) -> float:
        return _value(after, name) - _value(before, name)

    assert _value(after, "throughcare_outbox_depth") == 0
    assert grew('throughcare_webhook_deliveries{outcome="delivered"}') == 1
    assert grew('throughcare_webhook_deliveries{outcome="pending"}') == 0
    assert grew('throughcare_webhook_delivery_seconds_bucket{le="+Inf"}') == 1
    assert grew("throughcare_webhook_delivery_seconds_count") == 1
    assert str(hw.participant.id) not in after


def test_metrics_endpoint_serves_them(hw: HookWorld) -> None:
    res = hw.client.get("/metrics")
    assert res.status_code == 200
    assert "throughcare_outbox_depth" in res.text
    assert "throughcare_webhook_delivery_seconds_bucket" in res.text
