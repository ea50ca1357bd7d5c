"""The broker's worker registry, driven by a fake clock."""

from libs.contracts.bus import RunningJob
from services.api.dispatch.registry import WorkerRegistry

LIVENESS = 3.0


def test_silent_worker_expires_after_liveness_and_heartbeats_keep_it():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0)
    registry.ready(b"b", "b", None, now=0.0)
    registry.heartbeat(b"a", now=2.5)
    assert registry.expire(now=2.9) == []
    dead = registry.expire(now=3.0)
    assert [worker.worker_id for worker in dead] == ["b"]
    assert b"a" in registry and b"b" not in registry
    assert [worker.worker_id for worker in registry.expire(now=5.5)] == ["a"]


def test_longest_idle_worker_is_offered_first():
    registry = WorkerRegistry(LIVENESS)
    for name in (b"a", b"b", b"c"):
        registry.ready(name, name.decode(), None, now=0.0)
    registry.assign(b"a", RunningJob(job_id="j1", attempt=1), now=0.0)
    assert [worker.worker_id for worker in registry.idle()] == ["b", "c"]
    registry.release(b"a", "j1")
    assert [worker.worker_id for worker in registry.idle()] == ["b", "c", "a"]


def test_release_of_another_job_keeps_the_worker_busy():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", RunningJob(job_id="j2", attempt=1), now=0.0)
    registry.release(b"a", "j1")
    assert registry.idle() == [] and registry.owner_of("j2").worker_id == "a"


def test_heartbeat_from_unknown_identity_is_reported():
    assert WorkerRegistry(LIVENESS).heartbeat(b"ghost", now=1.0) is None


def test_a_worker_that_keeps_reporting_another_job_overrides_the_registry_after_grace():
    registry = WorkerRegistry(LIVENESS)
    registry.ready(b"a", "a", None, now=0.0)
    job = RunningJob(job_id="j1", attempt=1)
    registry.assign(b"a", job, now=10.0)
    assert registry.disagreement(b"a", None, now=11.0, grace=2.0) is None, "a Render may still be in flight"
    assert registry.disagreement(b"a", job, now=20.0, grace=2.0) is None
    assert registry.disagreement(b"a", None, now=12.5, grace=2.0) == job
    assert registry.idle()[0].worker_id == "a"
