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
        self._window = 0.0
        self._max = 0
        self._since_sweep = 0

    def retry_after(self, key: str, max_failures: int, window: int) -> int:
        """Seconds until `key` may try again (0 when it may now)."""
        now = time.monotonic()
        with self._lock:
            self._window, self._max = float(window), max_failures
            # Only the last `max_failures` failures in the window decide; a key with none
            # is forgotten, so memory is bounded by the failures of one window.
            recent = [t for t in self._failures.get(key, []) if now - t < window]
            recent = recent[-max_failures:]
            if recent:
                self._failures[key] = recent
            else:
                self._failures.pop(key, None)
            if len(recent) < max_failures:
                return 0
            return max(1, int(window - (now - recent[-max_failures])) + 1)

    def failed(self, key: str) -> None:
        now = time.monotonic()
        with self._lock:
            entry = self._failures.setdefault(key, [])
            entry.append(now)
            if self._max and len(entry) > self._max:
                del entry[: len(entry) - self._max]
            self._since_sweep += 1
            if self._since_sweep >= 1024 and self._window:
                # Forget keys whose last failure left the window (never a key still in it,
                # so no lockout is shortened).
                self._since_sweep = 0
                stale = [k for k, ts in self._failures.items() if now - ts[-1] >= self._window]
                for k in stale:
                    del self._failures[k]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()


throttle = LoginThrottle()
