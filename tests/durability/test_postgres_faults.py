"""PostgreSQL paused or stopped under the service (a private cluster, never the shared
server): liveness keeps answering, readiness says 503 within its deadline, requests get
503 problem+json with Retry-After on an open keep-alive connection, and all recovers."""

import contextlib
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.durability.harness import Server, own_database
from tests.durability.private_pg import PrivateCluster, available

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster() -> Any:
    if not available():
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are needed for this test")
    private = PrivateCluster()
    private.init()
    try:
        yield private
    finally:
        with contextlib.suppress(Exception):  # already stopped
            private.resume()
        private.remove()


def _timed_get(client: httpx.Client, path: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = client.get(path)
    return response, time.perf_counter() - started


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) >= 1


def test_paused_then_stopped_postgres_is_answered(cluster: PrivateCluster, tmp_path: Path) -> None:
    """A paused database froze every request, /healthz and /readyz; a stopped one gave 500s
    and reset connections."""
    with own_database(tmp_path, "faults", admin_url=cluster.url) as url:
        server = Server(
            url,
            tmp_path,
            readiness_timeout_seconds="1",
            db_connect_timeout_seconds="2",
            db_pool_timeout_seconds="2",
        )
        server.prepare()
        server.start()
        headers = {"Authorization": f"Bearer {server.token()}"}
        try:
            with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
                assert client.get("/readyz").status_code == 200
                listed = client.get("/api/v1/participants?limit=1")
                assert listed.status_code == 200
                pid = listed.json()["items"][0]["id"]

                cluster.pause()
                in_flight: dict[str, Any] = {}

                def read() -> None:
                    with httpx.Client(base_url=server.base, headers=headers, timeout=60) as c:
                        in_flight["response"] = c.get(f"/api/v1/participants/{pid}")

                reader = threading.Thread(target=read, daemon=True)
                reader.start()
                time.sleep(0.5)  # the read is now waiting on the paused database
                live, live_s = _timed_get(client, "/healthz")
                ready, ready_s = _timed_get(client, "/readyz")
                assert live.status_code == 200 and live_s < 1.0
                _unavailable(ready)
                assert ready.json()["database"] == "stalled" and ready_s < 3.0

                cluster.resume()
                reader.join(30)
                assert in_flight["response"].status_code == 200
                assert client.get("/readyz").status_code == 200

                cluster.stop("fast")
                answers = [client.get(f"/api/v1/participants/{pid}") for _ in range(5)]
                for answer in answers:  # same keep-alive connection: answered, never reset
                    _unavailable(answer)
                _unavailable(client.get("/readyz"))

                cluster.start()
                deadline = time.monotonic() + 20
                while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.5)
                assert client.get(f"/api/v1/participants/{pid}").status_code == 200
        finally:
            server.stop()
