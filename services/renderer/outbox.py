"""Outcomes the broker has not acknowledged yet, each with its own resend timer.

An outcome is resent when its ack timeout passes, the timeout doubling each time up to a cap:
a broker that is merely busy gets a few copies, not one per heartbeat, and one that was away
gets everything at once when the worker says Ready again (`restart`). The clock is the
caller's, so the real worker and the tests' protocol peers share this one policy.
"""

from dataclasses import dataclass

from libs.contracts.bus import JobFinished

FIRST_RESEND_SEC = 2.0
"""Twice the heartbeat interval: a broker that answers at all acknowledges well within it."""
MAX_RESEND_SEC = 16.0


@dataclass
class _Unacked:
    outcome: JobFinished
    resend_at: float
    timeout: float


class Outbox:
    def __init__(self, first_timeout: float = FIRST_RESEND_SEC, max_timeout: float = MAX_RESEND_SEC) -> None:
        self._first_timeout = first_timeout
        self._max_timeout = max_timeout
        self._unacked: dict[tuple[str, int], _Unacked] = {}

    def __len__(self) -> int:
        return len(self._unacked)

    def put(self, outcome: JobFinished, now: float) -> None:
        """Keeps `outcome`, which the caller sends now, until it is acknowledged."""
        self._unacked[(outcome.job_id, outcome.attempt)] = _Unacked(outcome, now + self._first_timeout, self._first_timeout)

    def ack(self, job_id: str, attempt: int) -> None:
        self._unacked.pop((job_id, attempt), None)

    def due(self, now: float) -> list[JobFinished]:
        """The outcomes whose ack timeout has passed, to resend now; their timeouts double."""
        outcomes = []
        for unacked in self._unacked.values():
            if unacked.resend_at <= now:
                unacked.timeout = min(2 * unacked.timeout, self._max_timeout)
                unacked.resend_at = now + unacked.timeout
                outcomes.append(unacked.outcome)
        return outcomes

    def restart(self, now: float) -> list[JobFinished]:
        """Every outcome, to resend now to a broker that is back: a new connection, so each
        one's backoff starts over."""
        for unacked in self._unacked.values():
            unacked.timeout = self._first_timeout
            unacked.resend_at = now + self._first_timeout
        return [unacked.outcome for unacked in self._unacked.values()]

    def next_due(self) -> float | None:
        """When the earliest resend is due; None when nothing waits for an Ack."""
        return min((unacked.resend_at for unacked in self._unacked.values()), default=None)
