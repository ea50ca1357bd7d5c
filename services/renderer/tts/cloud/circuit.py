"""A per-engine circuit breaker: a provider that is down fails every job at once instead of
letting each one spend its whole deadline on retries."""

import threading
import time
from collections.abc import Callable
from enum import Enum


class Admission(Enum):
    CLOSED = "closed"
    """Requests flow normally."""
    TRIAL = "trial"
    """The circuit was open long enough: this one request probes the provider, unretried."""
    AWAIT_TRIAL = "await_trial"
    """A trial request is out: wait for its outcome (`await_trial`), then ask again."""
    REFUSED = "refused"


class CircuitBreaker:
    """Opens after `failures_to_open` consecutive failed requests (each after its own retries);
    while open every request is refused for `open_sec`; then a single trial request is let
    through, whose success closes it and whose failure opens it again. Requests arriving while
    the trial is out wait for it rather than fail: a job's other sentences should not fail
    beside a trial that succeeds. Thread-safe."""

    def __init__(self, failures_to_open: int, open_sec: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._failures_to_open = failures_to_open
        self._open_sec = open_sec
        self.clock = clock
        """Where time comes from: replaceable, so a test can move it on."""
        self._changed = threading.Condition()
        self._consecutive_failures = 0
        self._open_until: float | None = None
        self._trial_in_flight = False
        self.last_failure = ""
        """What the provider answered the last failed request: why the circuit is open."""

    def admit(self) -> Admission:
        with self._changed:
            if self._open_until is None:
                return Admission.CLOSED
            if self.clock() < self._open_until:
                return Admission.REFUSED
            if self._trial_in_flight:
                return Admission.AWAIT_TRIAL
            self._trial_in_flight = True
            return Admission.TRIAL

    def await_trial(self, timeout: float) -> None:
        """Returns when the trial request is over, or after `timeout` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: not self._trial_in_flight, timeout)

    def reopens_in(self) -> float:
        """Seconds until a trial request may be let through (0 when closed)."""
        with self._changed:
            return 0.0 if self._open_until is None else max(0.0, self._open_until - self.clock())

    def record_success(self, admission: Admission) -> None:
        """A request let in with `admission` succeeded: the provider is up."""
        with self._changed:
            self._consecutive_failures = 0
            self._open_until = None
            if admission is Admission.TRIAL:
                self._end_trial()

    def record_failure(self, admission: Admission, why: str) -> None:
        """A request let in with `admission` failed after its retries. Only the trial's own
        outcome ends the trial: a request admitted before the circuit opened may end while the
        trial is still out, and must not let a second trial through."""
        with self._changed:
            self.last_failure = why
            self._consecutive_failures += 1
            if admission is Admission.TRIAL:
                self._open_until = self.clock() + self._open_sec
                self._end_trial()
            elif not self._trial_in_flight and self._consecutive_failures >= self._failures_to_open:
                self._open_until = self.clock() + self._open_sec

    def release_trial(self) -> None:
        """The trial ended without telling whether the provider is up (canceled, refused for
        our own mistake): let the next request try."""
        with self._changed:
            self._end_trial()

    def _end_trial(self) -> None:
        self._trial_in_flight = False
        self._changed.notify_all()
