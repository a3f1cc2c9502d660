"""Request counters by route template and status (no personal data), Prometheus format."""

import threading
from collections import Counter


class RequestMetrics:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self._seconds: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._counts[(method, route, status)] += 1
            self._seconds[(method, route)] = self._seconds.get((method, route), 0.0) + seconds

    def render(self) -> str:
        lines = [
            "# HELP throughcare_requests_total Requests by route template and status.",
            "# TYPE throughcare_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), count in sorted(self._counts.items()):
                lines.append(
                    f'throughcare_requests_total{{method="{method}",route="{route}",'
                    f'status="{status}"}} {count}'
                )
            lines += [
                "# HELP throughcare_request_seconds_total Time spent serving, by route.",
                "# TYPE throughcare_request_seconds_total counter",
            ]
            for (method, route), secs in sorted(self._seconds.items()):
                lines.append(
                    f'throughcare_request_seconds_total{{method="{method}",route="{route}"}}'
                    f" {secs:.6f}"
                )
        return "\n".join(lines) + "\n"


metrics = RequestMetrics()
