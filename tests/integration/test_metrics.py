"""Webhook metrics come from the database: the same on every worker, no participant ids."""

from typing import Any

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


def test_request_latency_by_route_template_without_ids(hw: HookWorld) -> None:
    res = hw.client.get(f"/api/v1/participants/{hw.participant.id}", headers=hw.coord_headers)
    assert res.status_code == 200
    text = hw.client.get("/metrics").text
    route = 'method="GET",route="/api/v1/participants/{participant_id}"'
    assert f'throughcare_request_duration_seconds_bucket{{le="+Inf",{route}}}' in text
    assert f'throughcare_requests_total{{{route},status="200"}}' in text
    assert "# TYPE throughcare_request_duration_seconds histogram" in text
    assert str(hw.participant.id) not in text and "Sam" not in text


_WORKER = """
import sys
from app.core.metrics import metrics
for _ in range(int(sys.argv[1])):
    metrics.observe("GET", "/api/v1/participants/{participant_id}", 200, 0.02)
"""


def test_several_processes_are_summed(tmp_path: Any) -> None:
    """`serve --workers N`: each process writes its samples to the shared directory and a
    scrape answered by any one of them reports the sum (prometheus_client multiprocess)."""
    import os
    import subprocess
    import sys

    from app.core.metrics import MULTIPROC_ENV, RequestMetrics, prepare_multiprocess_dir

    directory = str(tmp_path / "metrics")
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_stale.db").write_bytes(b"stale")  # from a previous run
    old = os.environ.get(MULTIPROC_ENV)
    try:
        prepare_multiprocess_dir(directory)
        assert os.listdir(directory) == []
        for count in (3, 4):  # two worker processes, each answering some requests
            subprocess.run([sys.executable, "-c", _WORKER, str(count)], check=True)
        text = RequestMetrics().render()
    finally:
        if old is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = old
    route = 'method="GET",route="/api/v1/participants/{participant_id}"'
    assert f'throughcare_requests_total{{{route},status="200"}} 7.0' in text
    assert f"throughcare_request_duration_seconds_count{{{route}}} 7.0" in text
    assert f'throughcare_request_duration_seconds_bucket{{le="0.025",{route}}} 7.0' in text
