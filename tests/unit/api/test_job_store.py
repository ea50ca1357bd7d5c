"""Job state transitions on a real database (SQLite, or PostgreSQL with `--job-store`):
conditional updates make late, duplicate and stale messages harmless, and every change is
stored as a numbered event. On PostgreSQL the concurrent tests really interleave (a pool of
connections, row locks); on SQLite its one writer serialises them."""

import asyncio
import time

import msgspec
import pytest
from sqlalchemy import update

from libs.contracts.bus import JobFinished, Outcome, Progress, RenderedAssets
from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import Scene, Script
from services.api.db.models import JobRow
from services.api.errors import JobNotCancelable, ScriptNotApproved
from services.api.jobs.lifecycle import JobLifecycle, Verdict
from services.api.jobs.store import JobStore
from services.api.scripts.store import ScriptStore

pytestmark = pytest.mark.anyio
SCRIPT = Script(title="t", scenes=[Scene(narration="안녕하세요.")])
ESPEAK = {"espeak"}


@pytest.fixture
async def stores(db):
    scripts = ScriptStore(db)
    await scripts.put("v", "s", SCRIPT, "tester")
    await scripts.approve("v", "s")
    yield scripts, Jobs(db)


class Jobs(JobLifecycle, JobStore):
    """The lifecycle's transitions and the store's reads over one database, as the API has them."""

    def __init__(self, db) -> None:
        JobLifecycle.__init__(self, db, lambda transition: None, max_attempts=3, attempt_timeout=lambda script: 60.0)
        JobStore.__init__(self, db)


def succeeded(job_id: str, attempt: int) -> JobFinished:
    return JobFinished(job_id=job_id, attempt=attempt, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=1.0))


async def running_job(jobs: "Jobs", video_id: str = "v"):
    job, created = await jobs.create(video_id, "s", "tester")
    assert created
    claimed = await jobs.claim("w1", ESPEAK)
    assert claimed.job.job_id == job.job_id and claimed.job.attempt == 1
    return claimed.job


async def test_second_create_returns_the_active_job(stores):
    _, jobs = stores
    first, created = await jobs.create("v", "s", "tester")
    again, created_again = await jobs.create("v", "s", "tester")
    assert created and not created_again
    assert again.job_id == first.job_id


async def test_concurrent_creates_for_one_video_give_one_job(stores):
    _, jobs = stores
    results = await asyncio.gather(*(jobs.create("v", "s", "tester") for _ in range(20)))
    assert sum(created for _, created in results) == 1
    assert len({job.job_id for job, _ in results}) == 1


async def test_a_cancel_racing_a_claim_always_ends_the_job_canceled(stores):
    """The claim either comes first (the cancel then stops its attempt) or passes the locked
    row over; a cancel never finds the job moved under it (that raised on PostgreSQL)."""
    _, jobs = stores
    for round_ in range(20):
        job, _ = await jobs.create("v", "s", "tester")
        canceled, claimed = await asyncio.gather(jobs.cancel("v", job.job_id), jobs.claim(f"w{round_}", ESPEAK))
        assert canceled[0].status == "CANCELED"
        assert claimed is None or claimed.job.job_id == job.job_id
        assert canceled[1] == (claimed.job.worker_id if claimed else None), "the claimed attempt's worker is told"


async def test_a_cancel_racing_the_outcome_either_cancels_or_is_refused(stores):
    """Both write the attempt and the job; they must take their locks in one order (the job's
    row first), or PostgreSQL finds a deadlock and aborts one of them."""
    _, jobs = stores
    for round_ in range(20):
        job = await running_job(jobs, video_id="v")
        canceled, finished = await asyncio.gather(
            jobs.cancel("v", job.job_id), jobs.finish(succeeded(job.job_id, 1), "w1"), return_exceptions=True
        )
        if isinstance(canceled, JobNotCancelable):
            assert finished.verdict is Verdict.APPLIED and finished.job.status == "SUCCEEDED", round_
        else:
            assert not isinstance(canceled, BaseException), canceled
            assert canceled[0].status == "CANCELED" and canceled[1] == "w1", round_
            # The worker's word on a canceled attempt closes its record: applied, files unwanted.
            assert not isinstance(finished, BaseException), finished
            assert finished.verdict is Verdict.APPLIED and finished.discard == ("v", job.job_id), round_


async def test_draft_script_cannot_be_rendered(stores):
    scripts, jobs = stores
    await scripts.put("v", "draft", SCRIPT, "tester")
    with pytest.raises(ScriptNotApproved):
        await jobs.create("v", "draft", "tester")


async def test_duplicate_and_stale_outcomes_change_nothing(stores):
    _, jobs = stores
    job = await running_job(jobs)
    assert (await jobs.finish(succeeded(job.job_id, attempt=2), "w1")).verdict is Verdict.STALE, "stale attempt applied"
    assert (await jobs.finish(succeeded(job.job_id, attempt=1), "impostor")).verdict is Verdict.STALE, (
        "another worker's word applied"
    )
    done = await jobs.finish(succeeded(job.job_id, attempt=1), "w1")
    assert done.verdict is Verdict.APPLIED and done.job.status == "SUCCEEDED" and done.job.progress == 100
    again = await jobs.finish(succeeded(job.job_id, attempt=1), "w1")
    assert again.verdict is Verdict.DUPLICATE and again.job is None, "duplicate applied"
    failed = JobFinished(job_id=job.job_id, attempt=1, outcome=Outcome.FAILED, error_code=ErrorCode.RENDER_FAILED)
    assert (await jobs.finish(failed, "w1")).verdict is Verdict.STALE, "a conflicting outcome is not a duplicate"
    assert await jobs.fail_attempt(job.job_id, 1, ErrorCode.WORKER_LOST, "lost") is None
    assert (await jobs.find(job.job_id)).status == "SUCCEEDED"


async def test_an_outcome_after_the_broker_failed_the_attempt_is_stale(stores):
    _, jobs = stores
    job = await running_job(jobs)
    timed_out = await jobs.fail_attempt(job.job_id, 1, ErrorCode.TIMEOUT, "deadline")
    assert timed_out.status == "PENDING"
    assert (await jobs.finish(succeeded(job.job_id, attempt=1), "w1")).verdict is Verdict.STALE
    attempts = (await jobs.get_with_attempts("v", job.job_id))[1]
    assert [(a.outcome, a.error_code) for a in attempts] == [("FAILED", "TIMEOUT")]


async def test_final_progress_is_stored_with_the_outcome_before_its_status_change(stores):
    _, jobs = stores
    job = await running_job(jobs)
    final = [
        Progress(job_id=job.job_id, video_id="v", attempt=1, seq=seq, step=step, progress=value, ts=time.time())
        for seq, step, value in [(4, Step.COMPOSE_VIDEO, 80), (2, Step.GENERATE_TTS, 30), (5, Step.PUBLISH_ASSETS, 99)]
    ]
    await jobs.record_progress([final[1]])
    announced: list = []
    jobs._announce = announced.append
    await jobs.finish(msgspec.structs.replace(succeeded(job.job_id, 1), final_progress=final), "w1")
    assert [(t.event.status, t.event.step) for t in announced] == [
        ("RUNNING", "COMPOSE_VIDEO"),
        ("RUNNING", "PUBLISH_ASSETS"),
        ("SUCCEEDED", "PUBLISH_ASSETS"),
    ]


async def test_late_success_never_overwrites_canceled(stores):
    _, jobs = stores
    job = await running_job(jobs)
    canceled, worker = await jobs.cancel("v", job.job_id)
    assert canceled.status == "CANCELED" and worker == "w1"
    (attempt,) = (await jobs.get_with_attempts("v", job.job_id))[1]
    assert attempt.outcome == "CANCELED" and attempt.finished_at is None, "open until the worker has stopped"
    late = await jobs.finish(succeeded(job.job_id, attempt=1), "w1")
    assert late.verdict is Verdict.APPLIED and late.job is None and late.discard == ("v", job.job_id)
    assert (await jobs.find(job.job_id)).status == "CANCELED"
    (attempt,) = (await jobs.get_with_attempts("v", job.job_id))[1]
    assert attempt.outcome == "CANCELED" and attempt.finished_at is not None, "the attempt's record stayed open"
    assert (await jobs.finish(succeeded(job.job_id, attempt=1), "w1")).verdict is Verdict.DUPLICATE, "a resend"
    assert await jobs.published("v") is None
    with pytest.raises(JobNotCancelable):
        done = await running_job(jobs)
        await jobs.finish(succeeded(done.job_id, 1), "w1")
        await jobs.cancel("v", done.job_id)


async def test_retryable_failures_back_off_then_requeue_until_attempts_run_out(stores):
    _, jobs = stores
    job = await running_job(jobs)
    for attempt in (1, 2, 3):
        if attempt > 1:
            assert await jobs.claim("w1", ESPEAK) is None, "a retry must wait for its backoff"
            waiting = await jobs.find(job.job_id)
            delay = (waiting.not_before - waiting.updated_at).total_seconds()
            base = 2 ** (attempt - 2)
            assert 0.5 * base - 0.01 <= delay <= 1.5 * base + 0.01, (attempt, delay)
            await end_backoff(jobs, job.job_id)
            claimed = await jobs.claim(f"w{attempt}", ESPEAK)
            assert claimed.job.attempt == attempt
        failed = await jobs.fail_attempt(job.job_id, attempt, ErrorCode.WORKER_LOST, "lost")
        assert failed.status == ("FAILED" if attempt == 3 else "PENDING")
    final = await jobs.find(job.job_id)
    assert final.error_code == "WORKER_LOST" and final.attempt == 3 and final.finished_at is not None
    attempts = (await jobs.get_with_attempts("v", job.job_id))[1]
    assert [(a.attempt, a.worker_id, a.outcome, a.error_code) for a in attempts] == [
        (1, "w1", "FAILED", "WORKER_LOST"),
        (2, "w2", "FAILED", "WORKER_LOST"),
        (3, "w3", "FAILED", "WORKER_LOST"),
    ]
    assert all(a.finished_at >= a.started_at for a in attempts)


async def end_backoff(jobs: "Jobs", job_id: str) -> None:
    async with jobs._db.write_session() as session, session.begin():
        await session.execute(update(JobRow).where(JobRow.job_id == job_id).values(not_before=None))


async def test_claim_sets_the_attempts_deadline(stores):
    _, jobs = stores
    job = await running_job(jobs)
    assert job.deadline_at is not None and 59 <= (job.deadline_at - job.updated_at).total_seconds() <= 61


async def test_permanent_failure_fails_at_once(stores):
    _, jobs = stores
    job = await running_job(jobs)
    failed = JobFinished(
        job_id=job.job_id,
        attempt=1,
        outcome=Outcome.FAILED,
        error_code=ErrorCode.INVALID_SCRIPT,
        error_message="empty",
        retryable=False,
    )
    finish = await jobs.finish(failed, "w1")
    assert finish.job.status == "FAILED" and finish.job.attempt == 1
