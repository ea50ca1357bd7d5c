"""A token bucket capping how many requests per second one engine starts in this process."""

import threading
import time
from collections.abc import Callable


class RequestRate:
    """Hands out start times at most `per_second` apart on average, with a burst of up to one
    second's worth. Each caller reserves its slot under the lock and then waits outside it, so
    waiting callers queue in order without holding anyone up."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._per_second = per_second
        self._capacity = max(1.0, per_second)
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = self._capacity
        self._updated = clock()

    def reserve(self) -> float:
        """Takes a slot; returns how many seconds to wait before using it (0: go now)."""
        if self._per_second <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._per_second)
            self._updated = now
            self._tokens -= 1
            return 0.0 if self._tokens >= 0 else -self._tokens / self._per_second
