"""Unacknowledged outcomes are resent on their own ack timeouts, with backoff."""

from libs.contracts.bus import JobFinished, Outcome
from services.renderer.outbox import FIRST_RESEND_SEC, MAX_RESEND_SEC, Outbox


def finished(job_id: str, attempt: int = 1) -> JobFinished:
    return JobFinished(job_id=job_id, attempt=attempt, outcome=Outcome.SUCCEEDED)


def resend_times(outbox: Outbox, until: float, step: float = 0.25) -> list[float]:
    times, now = [], 0.0
    while now <= until:
        times += [now] * len(outbox.due(now))
        now += step
    return times


def test_an_outcome_is_resent_after_2_s_then_with_doubling_timeouts_capped_at_16_s():
    outbox = Outbox()
    outbox.put(finished("job-1"), now=0.0)
    assert (FIRST_RESEND_SEC, MAX_RESEND_SEC) == (2.0, 16.0)
    assert resend_times(outbox, until=80.0) == [2.0, 6.0, 14.0, 30.0, 46.0, 62.0, 78.0]


def test_an_acknowledged_outcome_is_never_resent():
    outbox = Outbox()
    outbox.put(finished("job-1"), now=0.0)
    outbox.put(finished("job-2"), now=0.0)
    outbox.ack("job-1", 1)
    outbox.ack("job-2", 7)  # another attempt's Ack frees nothing
    assert outbox.due(2.0) == [finished("job-2")]
    outbox.ack("job-2", 1)
    assert len(outbox) == 0 and outbox.next_due() is None and outbox.due(100.0) == []


def test_next_due_is_the_earliest_resend():
    outbox = Outbox()
    outbox.put(finished("job-1"), now=5.0)
    outbox.put(finished("job-2"), now=1.0)
    assert outbox.next_due() == 3.0


def test_restart_hands_over_everything_at_once_and_starts_each_backoff_over():
    outbox = Outbox()
    outbox.put(finished("job-1"), now=0.0)
    outbox.due(2.0)
    outbox.due(6.0)
    outbox.put(finished("job-2"), now=6.5)
    assert outbox.restart(7.0) == [finished("job-1"), finished("job-2")]
    assert outbox.next_due() == 9.0 and outbox.due(9.0) == [finished("job-1"), finished("job-2")]
