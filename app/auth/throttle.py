"""Repeated failed token requests for one client or user get 429 with Retry-After."""

import threading
import time


class LoginThrottle:
    """Failures per account in a sliding window, kept in this process's memory.

    Several instances each keep their own count, so the effective limit is the
    per-instance limit times the instance count (written down in the README).
    """

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str, max_failures: int, window: int) -> int:
        """Seconds until `key` may try again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < window]
            self._failures[key] = recent
            if len(recent) < max_failures:
                return 0
            return max(1, int(window - (now - recent[-max_failures])) + 1)

    def failed(self, key: str) -> None:
        with self._lock:
            self._failures.setdefault(key, []).append(time.monotonic())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()


throttle = LoginThrottle()
