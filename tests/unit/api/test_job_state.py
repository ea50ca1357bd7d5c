"""The job-state service on a real database: it stores what the broker hands it in order, a
request made while the same kind of work runs is not lost, a database error is waited out
without reordering, and a full queue drops (and counts) rather than grows."""

import asyncio
import time
from datetime import datetime

import pytest
from sqlalchemy.exc import OperationalError

from libs.contracts.bus import JobFinished, Outcome, Progress, RenderedAssets
from libs.contracts.codes import Step
from libs.contracts.script import Scene, Script
from libs.storage import open_asset_store
from services.api.dispatch import job_state
from services.api.dispatch.job_state import JobStateService
from services.api.jobs.lifecycle import Claimed, JobLifecycle
from services.api.jobs.store import JobStore
from services.api.scripts.store import ScriptStore

pytestmark = pytest.mark.anyio
WAIT_SEC = 30
"""How long a test waits for an event that must come: only a broken service takes it."""


class Broker:
    """The broker's side of the service, recording what it is told."""

    def __init__(self) -> None:
        self.idle: list[tuple[str, frozenset[str]]] = []
        self.rendering: list[Claimed] = []
        self.acknowledged: list[JobFinished] = []
        self.rejected: dict[str, int] = {}
        self.told = asyncio.Event()

    def idle_workers(self) -> list[tuple[str, frozenset[str]]]:
        return self.idle

    def start_render(self, worker_id: str, claimed: Claimed) -> bool:
        self.idle = [worker for worker in self.idle if worker[0] != worker_id]
        self.rendering.append(claimed)
        self.told.set()
        return True

    def settled(self, identity: bytes, outcome: JobFinished) -> None:
        self.acknowledged.append(outcome)
        self.told.set()

    def stop_render(self, job_id: str, attempt: int) -> None:
        pass

    def owned_attempts(self) -> dict[str, int]:
        return {claimed.job.job_id: claimed.job.attempt for claimed in self.rendering}

    def offered_engines(self) -> set[str] | None:
        return {"espeak"}

    def wake_at(self, when: datetime) -> None:
        pass

    def reject(self, reason: str, count: int = 1) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + count


class GatedLifecycle(JobLifecycle):
    """The real lifecycle, whose progress writes wait at a gate the test opens, and whose next
    outcome can be made to meet a database error first."""

    def __init__(self, db) -> None:
        super().__init__(db, lambda transition: None, max_attempts=3, attempt_timeout=lambda script: 60.0)
        self.gate = asyncio.Event()
        self.writing = asyncio.Event()
        self.batches: list[list[int]] = []
        self.calls: list[str] = []
        self.fail_next_finish = False

    async def record_progress(self, reports: list[Progress]) -> int:
        self.writing.set()
        await self.gate.wait()
        self.batches.append([report.seq for report in reports])
        return await super().record_progress(reports)

    async def finish(self, result: JobFinished, worker_id: str):
        self.calls.append("finish")
        if self.fail_next_finish:
            self.fail_next_finish = False
            raise OperationalError("UPDATE job_attempts", {}, Exception("database is locked"))
        return await super().finish(result, worker_id)

    async def fail_attempt(self, job_id, attempt, error_code, reason):
        self.calls.append("fail_attempt")
        return await super().fail_attempt(job_id, attempt, error_code, reason)

    async def give_back(self, job_id, attempt):
        self.calls.append("give_back")
        return await super().give_back(job_id, attempt)


@pytest.fixture
async def service(db, tmp_path):
    scripts = ScriptStore(db)
    await scripts.put("v", "s", Script(title="t", scenes=[Scene(narration="안녕.")]), "tester")
    await scripts.approve("v", "s")
    lifecycle, broker = GatedLifecycle(db), Broker()
    store = open_asset_store("", tmp_path / "assets")
    service = JobStateService(lifecycle, JobStore(db), store, broker)
    task = asyncio.create_task(service.run())
    yield service, lifecycle, broker
    task.cancel()


async def running_job(service, lifecycle, broker) -> Claimed:
    await lifecycle.create("v", "s", "tester")
    broker.idle = [("w1", frozenset({"espeak"}))]
    broker.told.clear()
    service.dispatch()
    await asyncio.wait_for(broker.told.wait(), WAIT_SEC)
    return broker.rendering[-1]


async def held_at_the_gate(service, lifecycle, broker) -> Claimed:
    """A running job, and the service busy storing its first progress until the gate opens."""
    lifecycle.gate.set()
    claimed = await running_job(service, lifecycle, broker)
    lifecycle.gate.clear()
    service.progress([report(claimed, 1)])
    await asyncio.wait_for(lifecycle.writing.wait(), WAIT_SEC)
    return claimed


def succeeded(job_id: str) -> JobFinished:
    return JobFinished(job_id=job_id, attempt=1, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=1.0))


async def until(condition) -> None:
    """Returns once `condition()` holds; fails the test if it does not within WAIT_SEC."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - what it waits for is state the service sets, with no event of its own
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), WAIT_SEC)


def report(claimed: Claimed, seq: int) -> Progress:
    job = claimed.job
    return Progress(
        job_id=job.job_id,
        video_id=job.video_id,
        attempt=job.attempt,
        seq=seq,
        step=Step.GENERATE_TTS,
        progress=seq,
        ts=time.time(),
    )


async def test_progress_that_arrives_while_a_batch_is_stored_is_stored_too(service):
    service, lifecycle, broker = service
    claimed = await held_at_the_gate(service, lifecycle, broker)
    service.progress([report(claimed, 2)])
    lifecycle.gate.set()
    await until(lambda: len(lifecycle.batches) >= 2)
    assert lifecycle.batches == [[1], [2]]


async def test_an_outcome_that_meets_a_database_error_is_stored_before_what_came_after_it(service, monkeypatch):
    monkeypatch.setattr(job_state, "RETRY_PAUSE_SEC", (0.01, 0.01))
    service, lifecycle, broker = service
    lifecycle.gate.set()
    claimed = await running_job(service, lifecycle, broker)
    lifecycle.fail_next_finish = True
    broker.told.clear()
    service.outcome(b"w1/c1", succeeded(claimed.job.job_id))
    service.give_back(claimed.job.job_id, 1)  # read after the outcome: it must not win
    await asyncio.wait_for(broker.told.wait(), WAIT_SEC)
    await until(lambda: "give_back" in lifecycle.calls)
    assert lifecycle.calls == ["finish", "finish", "give_back"]
    job = await JobStore(lifecycle._db).find(claimed.job.job_id)
    assert job.status == "SUCCEEDED" and [outcome.job_id for outcome in broker.acknowledged] == [claimed.job.job_id]


async def test_a_lost_worker_is_not_queued_behind_its_own_outcome(service):
    """Its heartbeat says "idle" once it sent the outcome: failing the attempt after that
    outcome is stored could change nothing, so it costs no transaction; once the outcome is
    stored, a loss of the same attempt is queued again (and finds it ended)."""
    service, lifecycle, broker = service
    job_id = (await held_at_the_gate(service, lifecycle, broker)).job.job_id
    service.outcome(b"w1/c1", succeeded(job_id))
    service.lost(job_id, 1, "idle while its outcome waits")
    lifecycle.gate.set()
    await until(lambda: broker.acknowledged)
    service.lost(job_id, 1, "lost after its outcome was stored")
    await until(lambda: "fail_attempt" in lifecycle.calls)
    assert lifecycle.calls == ["finish", "fail_attempt"]
    assert (await JobStore(lifecycle._db).find(job_id)).status == "SUCCEEDED"


async def test_a_full_queue_drops_and_counts_what_the_sweep_finds_again_but_never_an_outcome(service, monkeypatch):
    monkeypatch.setattr(job_state, "QUEUE_MAX", 2)
    service, lifecycle, broker = service
    lifecycle.gate.clear()
    service.progress(
        [Progress(job_id="job-x", video_id="v", attempt=1, seq=1, step=Step.GENERATE_TTS, progress=1, ts=time.time())]
    )  # the service now waits at the gate, the queue fills behind it
    await asyncio.wait_for(lifecycle.writing.wait(), WAIT_SEC)
    for attempt in range(1, 5):
        service.lost("job-x", attempt, "gone")
    assert broker.rejected == {"job_state_queue_full": 3}
    service.dispatch()  # coalesced requests still get in: one of each at most
    # An outcome gets in too (a dropped one would let the loss its worker reports next decide
    # the attempt); its resends while it waits add nothing, one from another connection does.
    for identity in (b"w1/c1", b"w1/c1", b"w1/c2", b"w1/c1"):
        service.outcome(identity, succeeded("job-y"))
    assert broker.rejected == {"job_state_queue_full": 3}
    lifecycle.gate.set()
    await until(lambda: len(broker.acknowledged) == 2)
    assert lifecycle.calls == ["fail_attempt", "finish", "finish"]
