"""The broker's worker registry, driven by a fake clock."""

from libs.contracts.bus import RunningJob
from services.api.dispatch.registry import WorkerRegistry

LIVENESS = 3.0


def test_silent_worker_expires_after_liveness_and_heartbeats_keep_it():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0)
    registry.ready(b"b", "b", None, now=0.0)
    registry.heartbeat(b"a", now=5.0)
    assert registry.expire(now=5.9) == []
    dead = registry.expire(now=6.0)  # the first deadline: two liveness periods (see below)
    assert [worker.worker_id for worker in dead] == ["b"]
    assert b"a" in registry and b"b" not in registry
    assert registry.expire(now=5.0 + LIVENESS - 0.1) == []
    assert [worker.worker_id for worker in registry.expire(now=5.0 + LIVENESS)] == ["a"]


def test_a_worker_just_registered_gets_two_liveness_periods_once():
    """It may still be replacing its connection, which the ROUTER can ignore for one period."""
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0)
    registry.heartbeat(b"a", now=0.2)  # the old connection's last word does not shorten it
    assert registry.expire(now=2 * LIVENESS - 0.1) == []
    registry.heartbeat(b"a", now=2 * LIVENESS - 0.1)
    assert [worker.worker_id for worker in registry.expire(now=3 * LIVENESS - 0.1)] == ["a"]


def test_longest_idle_worker_is_offered_first():
    registry = WorkerRegistry(LIVENESS)
    for name in (b"a", b"b", b"c"):
        registry.ready(name, name.decode(), None, now=0.0)
    registry.assign(b"a", RunningJob(job_id="j1", attempt=1))
    assert [worker.worker_id for worker in registry.idle()] == ["b", "c"]
    assert registry.release(b"a", RunningJob(job_id="j1", attempt=1))
    assert [worker.worker_id for worker in registry.idle()] == ["b", "c", "a"]


def test_release_of_another_job_keeps_the_worker_busy():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", RunningJob(job_id="j2", attempt=1), now=0.0)
    assert not registry.release(b"a", RunningJob(job_id="j1", attempt=1))
    assert registry.idle() == [] and registry.owner_of("j2").worker_id == "a"


def test_a_late_outcome_of_an_earlier_attempt_does_not_free_the_worker_busy_with_the_next():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0)
    registry.assign(b"a", RunningJob(job_id="j1", attempt=2))
    assert not registry.release(b"a", RunningJob(job_id="j1", attempt=1))
    assert registry.idle() == [] and registry.owner_of("j1").job.attempt == 2


def test_heartbeat_from_unknown_identity_is_reported():
    assert WorkerRegistry(LIVENESS).heartbeat(b"ghost", now=1.0) is None


def test_only_a_heartbeat_sent_after_the_render_arrived_can_say_the_attempt_is_lost():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0, renders_received=4)
    job = RunningJob(job_id="j1", attempt=1)
    registry.assign(b"a", job)
    assert registry.disagreement(b"a", None, renders_received=4) is None, "a heartbeat from before the Render"
    assert registry.owner_of("j1") is not None
    assert registry.disagreement(b"a", job, renders_received=5) is None
    assert registry.disagreement(b"a", None, renders_received=5) == job
    assert registry.idle()[0].worker_id == "a"


def test_a_refused_render_leaves_the_worker_with_what_it_runs():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0)
    registry.assign(b"a", RunningJob(job_id="j1", attempt=1))
    registry.refused(b"a", RunningJob(job_id="j1", attempt=1), RunningJob(job_id="j0", attempt=1))
    assert registry.owner_of("j0").worker_id == "a" and registry.owner_of("j1") is None


def test_a_worker_back_by_an_old_heartbeat_after_expiring_keeps_its_render_count():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0)
    registry.assign(b"a", RunningJob(job_id="j1", attempt=1))
    registry.expire(now=10.0)
    # Adopted from a heartbeat it sent before j1's Render arrived: it says it had none.
    registry.ready(b"a", "a", None, now=10.5, renders_received=0)
    registry.assign(b"a", RunningJob(job_id="j2", attempt=1))
    assert registry.disagreement(b"a", RunningJob(job_id="j1", attempt=1), renders_received=1) is None, \
        "a heartbeat from before j2's Render declared j2 lost"


def test_only_a_ready_of_the_same_process_sent_before_its_render_is_old_news():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"w1", "w1", None, now=0.0, incarnation="first")
    registry.assign(b"w1", RunningJob(job_id="j1", attempt=1))
    assert registry.predates_last_render(b"w1", "first", renders_received=0)
    assert not registry.predates_last_render(b"w1", "first", renders_received=1)  # sent after the Render
    assert not registry.predates_last_render(b"w1", "second", renders_received=0)  # a restarted process
    assert not registry.predates_last_render(b"w1", "", renders_received=0)  # a worker that sends none
    assert not registry.predates_last_render(b"w2", "first", renders_received=0)  # unknown
