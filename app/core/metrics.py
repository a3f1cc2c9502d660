"""Request metrics by route template (never a concrete path, so no participant id), in the
Prometheus text format, correct when several server processes answer the scrapes.

With `throughcare serve --workers N` (N > 1) every process writes its samples to files in
a shared directory (`PROMETHEUS_MULTIPROC_DIR`, prometheus_client's multiprocess mode;
`serve` sets it up from THROUGHCARE_METRICS_MULTIPROC_DIR, emptied at start) and
whichever process answers `/metrics` sums them all, so successive scrapes agree. In a
single process the samples stay in memory. Under another process manager (gunicorn,
several uvicorn workers started by hand) set PROMETHEUS_MULTIPROC_DIR to an empty
directory before the processes start.

The webhook figures (outbox depth, deliveries by outcome, delivery latency) are read from
the database instead (app/services/delivery_metrics.py): the same in every process.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """Request counter and latency histogram, labelled by method, route template, status."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "throughcare_requests",
            "Requests by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "throughcare_request_duration_seconds",
            "Time to answer a request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(method, route, str(status)).inc()
        self._latency.labels(method, route).observe(seconds)

    def render(self) -> str:
        """Every process's samples (multiprocess mode), or this process's."""
        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            return generate_latest(registry).decode()
        return generate_latest(self.registry).decode()


def prepare_multiprocess_dir(directory: str) -> None:
    """Make `directory` the (empty) shared sample directory of the processes started next."""
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))
    os.environ[MULTIPROC_ENV] = directory


metrics = RequestMetrics()
