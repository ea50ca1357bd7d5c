"""The broker's worker registry, driven by a fake clock."""

from libs.contracts.bus import RunningJob
from services.api.dispatch.registry import Worker, WorkerRegistry

LIVENESS = 3.0
J1 = RunningJob(job_id="j1", attempt=1)


def worker(worker_id: str, now: float = 0.0, connection: str = "c1", incarnation: str = "p1", **fields) -> Worker:
    return Worker(
        worker_id=worker_id,
        identity=f"{worker_id}/{connection}".encode(),
        incarnation=incarnation,
        expires_at=now + LIVENESS,
        **fields,
    )


def registered(*workers: Worker) -> WorkerRegistry:
    registry = WorkerRegistry(LIVENESS)
    for each in workers:
        registry.register(each)
    return registry


def test_silent_worker_expires_after_liveness_and_heartbeats_keep_it():
    a, b = worker("a"), worker("b")
    registry = registered(a, b)
    registry.heard(a, now=2.0)
    assert registry.expire(now=LIVENESS - 0.1) == ([], [])
    dead, _ = registry.expire(now=LIVENESS)
    assert [w.worker_id for w in dead] == ["b"]
    assert registry.get("a") is a and registry.get("b") is None
    assert [w.worker_id for w in registry.expire(now=2.0 + LIVENESS)[0]] == ["a"]


def test_longest_idle_worker_is_offered_first():
    a, b, c = worker("a"), worker("b"), worker("c")
    registry = registered(a, b, c)
    registry.assign(a, J1)
    assert [w.worker_id for w in registry.idle()] == ["b", "c"]
    assert registry.release("a", J1)
    assert [w.worker_id for w in registry.idle()] == ["b", "c", "a"]


def test_an_outcome_of_another_attempt_does_not_free_the_worker():
    registry = registered(a := worker("a"))
    registry.assign(a, RunningJob(job_id="j1", attempt=2))
    assert not registry.release("a", J1)
    assert registry.idle() == [] and registry.owner_of("j1").job.attempt == 2


def test_only_an_account_sent_after_the_render_arrived_can_say_the_attempt_is_lost():
    registry = registered(a := worker("a", renders_sent=4))
    registry.assign(a, J1)
    assert registry.account(a, None, renders_received=4) is False, "sent before the Render arrived"
    assert registry.owner_of("j1") is a
    assert registry.account(a, J1, renders_received=5) is False
    assert registry.account(a, None, renders_received=5) is True and a.job is None, "J1 is lost"
    assert registry.idle() == [a]


def test_an_account_of_a_worker_that_got_more_renders_than_it_was_sent_is_believed():
    registry = registered(a := worker("a", renders_sent=0))
    assert registry.account(a, J1, renders_received=2) is True, "it runs what it says, and ran nothing the registry knew"
    assert a.job == J1 and a.renders_sent == 2


def test_a_new_connection_replaces_the_old_one_which_is_then_retired():
    old = worker("a", connection="c1")
    registry = registered(old)
    new = worker("a", connection="c2")
    registry.register(new)
    assert registry.get("a") is new and registry.retired(old.identity) and not registry.retired(new.identity)
    assert len(registry) == 1


def test_a_held_newcomer_takes_the_id_only_when_the_registered_one_expires():
    first = worker("a", incarnation="p1")
    registry = registered(first)
    second = worker("a", now=1.0, connection="c9", incarnation="p2")
    registry.hold(second)
    assert registry.get("a") is first and registry.idle() == [first], "held apart: no work for it"
    registry.heard(first, now=1.0)
    registry.heard(second, now=2.0)  # it keeps saying it is there
    assert registry.expire(now=LIVENESS + 0.5) == ([], [])
    dead, successors = registry.expire(now=1.0 + LIVENESS)
    assert dead == [first] and successors == [second] and registry.get("a") is second


def test_a_held_newcomer_that_falls_silent_is_forgotten():
    registry = registered(first := worker("a"))
    registry.hold(worker("a", connection="c9", incarnation="p2"))
    registry.heard(first, now=LIVENESS)
    registry.expire(now=LIVENESS)
    assert registry.held("a") is None and registry.get("a") is first
