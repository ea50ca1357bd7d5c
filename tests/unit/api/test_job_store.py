"""Job state transitions on a real database (SQLite, or PostgreSQL with `--job-store`):
conditional updates make late, duplicate and stale messages harmless, and every change is
stored as a numbered event. On PostgreSQL the concurrent tests really interleave (a pool of
connections, row locks); on SQLite its one writer serialises them."""

import asyncio
import time
from datetime import timedelta

import msgspec
import pytest
from sqlalchemy import update

from libs.contracts.bus import JobFinished, Outcome, Progress, RenderedAssets
from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import Scene, Script
from services.api.db.models import JobRow, utc_now
from services.api.errors import JobNotCancelable, ScriptNotApproved
from services.api.jobs.store import JobStore, Verdict
from services.api.scripts.store import ScriptStore

pytestmark = pytest.mark.anyio
SCRIPT = Script(title="t", scenes=[Scene(narration="안녕하세요.")])
ESPEAK = {"espeak"}


@pytest.fixture
async def stores(db):
    scripts = ScriptStore(db)
    await scripts.put("v", "s", SCRIPT, "tester")
    await scripts.approve("v", "s")
    yield scripts, JobStore(db, max_attempts=3, attempt_timeout=lambda script: 60.0)


def succeeded(job_id: str, attempt: int) -> JobFinished:
    return JobFinished(job_id=job_id, attempt=attempt, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=1.0))


async def running_job(jobs: JobStore, video_id: str = "v"):
    job, created, _ = await jobs.create(video_id, "s", "tester")
    assert created
    transition, _ = await jobs.claim_next("w1", ESPEAK)
    assert transition.job.job_id == job.job_id and transition.job.attempt == 1
    return transition.job


async def test_second_create_returns_the_active_job(stores):
    _, jobs = stores
    first, created, _ = await jobs.create("v", "s", "tester")
    again, created_again, event = await jobs.create("v", "s", "tester")
    assert created and not created_again and event is None
    assert again.job_id == first.job_id


async def test_concurrent_creates_for_one_video_give_one_job(stores):
    _, jobs = stores
    results = await asyncio.gather(*(jobs.create("v", "s", "tester") for _ in range(20)))
    assert sum(created for _, created, _ in results) == 1
    assert len({job.job_id for job, _, _ in results}) == 1


async def test_a_cancel_racing_a_claim_always_ends_the_job_canceled(stores):
    """The claim either comes first (the cancel then stops its attempt) or passes the locked
    row over; a cancel never finds the job moved under it (that raised on PostgreSQL)."""
    _, jobs = stores
    for round_ in range(20):
        job, _, _ = await jobs.create("v", "s", "tester")
        canceled, claimed = await asyncio.gather(jobs.cancel("v", job.job_id), jobs.claim_next(f"w{round_}", ESPEAK))
        assert canceled[0].status == "CANCELED"
        assert claimed is None or claimed[0].job.job_id == job.job_id
        assert canceled[2] == (claimed[0].job.worker_id if claimed else None), "the claimed attempt's worker is told"


async def test_a_cancel_racing_the_outcome_either_cancels_or_is_refused(stores):
    """Both write the attempt and the job; they must take their locks in one order (the job's
    row first), or PostgreSQL finds a deadlock and aborts one of them."""
    _, jobs = stores
    for round_ in range(20):
        job = await running_job(jobs, video_id="v")
        canceled, finished = await asyncio.gather(jobs.cancel("v", job.job_id), jobs.finish(succeeded(job.job_id, 1), "w1"),
                                                  return_exceptions=True)
        if isinstance(canceled, JobNotCancelable):
            assert finished.verdict is Verdict.APPLIED and finished.transition.job.status == "SUCCEEDED", round_
        else:
            assert not isinstance(canceled, BaseException), canceled
            assert canceled[0].status == "CANCELED" and canceled[2] == "w1", round_
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
    assert (await jobs.finish(succeeded(job.job_id, attempt=1), "impostor")).verdict is Verdict.STALE, "another worker's word applied"
    done = await jobs.finish(succeeded(job.job_id, attempt=1), "w1")
    assert done.verdict is Verdict.APPLIED and done.transition.job.status == "SUCCEEDED" and done.transition.job.progress == 100
    again = await jobs.finish(succeeded(job.job_id, attempt=1), "w1")
    assert again.verdict is Verdict.DUPLICATE and again.transitions == [], "duplicate applied"
    failed = JobFinished(job_id=job.job_id, attempt=1, outcome=Outcome.FAILED, error_code=ErrorCode.RENDER_FAILED)
    assert (await jobs.finish(failed, "w1")).verdict is Verdict.STALE, "a conflicting outcome is not a duplicate"
    assert await jobs.fail_attempt(job.job_id, 1, ErrorCode.WORKER_LOST, "lost", retryable=True) is None
    assert (await jobs.find(job.job_id)).status == "SUCCEEDED"


async def test_an_outcome_after_the_broker_failed_the_attempt_is_stale(stores):
    _, jobs = stores
    job = await running_job(jobs)
    timed_out = await jobs.fail_attempt(job.job_id, 1, ErrorCode.TIMEOUT, "deadline", retryable=True)
    assert timed_out.job.status == "PENDING"
    assert (await jobs.finish(succeeded(job.job_id, attempt=1), "w1")).verdict is Verdict.STALE
    attempts = (await jobs.get_with_attempts("v", job.job_id))[1]
    assert [(a.outcome, a.error_code) for a in attempts] == [("FAILED", "TIMEOUT")]


async def test_final_progress_is_stored_with_the_outcome_before_its_status_change(stores):
    _, jobs = stores
    job = await running_job(jobs)
    final = [Progress(job_id=job.job_id, video_id="v", attempt=1, seq=seq, step=step, progress=value, ts=time.time())
             for seq, step, value in [(4, Step.COMPOSE_VIDEO, 80), (2, Step.GENERATE_TTS, 30), (5, Step.PUBLISH_ASSETS, 99)]]
    await jobs.apply_progress_batch([final[1]])
    finish = await jobs.finish(msgspec.structs.replace(succeeded(job.job_id, 1), progress_seq=5, final_progress=final), "w1")
    assert [(t.event.status, t.event.step) for t in finish.transitions] == [
        ("RUNNING", "COMPOSE_VIDEO"), ("RUNNING", "PUBLISH_ASSETS"), ("SUCCEEDED", "PUBLISH_ASSETS")]


async def test_late_success_never_overwrites_canceled(stores):
    _, jobs = stores
    job = await running_job(jobs)
    canceled, _, worker = await jobs.cancel("v", job.job_id)
    assert canceled.status == "CANCELED" and worker == "w1"
    (attempt,) = (await jobs.get_with_attempts("v", job.job_id))[1]
    assert attempt.outcome == "CANCELED" and attempt.finished_at is None, "open until the worker has stopped"
    late = await jobs.finish(succeeded(job.job_id, attempt=1), "w1")
    assert late.verdict is Verdict.APPLIED and late.transition is None and late.discard == ("v", job.job_id)
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
    scripts, jobs = stores
    job = await running_job(jobs)
    for attempt in (1, 2, 3):
        if attempt > 1:
            assert await jobs.claim_next("w1", ESPEAK) is None, "a retry must wait for its backoff"
            waiting = await jobs.find(job.job_id)
            delay = (waiting.not_before - waiting.updated_at).total_seconds()
            base = 2 ** (attempt - 2)
            assert 0.5 * base - 0.01 <= delay <= 1.5 * base + 0.01, (attempt, delay)
            await end_backoff(jobs, job.job_id)
            transition, _ = await jobs.claim_next(f"w{attempt}", ESPEAK)
            assert transition.job.attempt == attempt
        outcome = await jobs.fail_attempt(job.job_id, attempt, ErrorCode.WORKER_LOST, "lost", retryable=True)
        assert outcome.job.status == ("FAILED" if attempt == 3 else "PENDING")
    final = await jobs.find(job.job_id)
    assert final.error_code == "WORKER_LOST" and final.attempt == 3 and final.finished_at is not None
    attempts = (await jobs.get_with_attempts("v", job.job_id))[1]
    assert [(a.attempt, a.worker_id, a.outcome, a.error_code) for a in attempts] == [
        (1, "w1", "FAILED", "WORKER_LOST"), (2, "w2", "FAILED", "WORKER_LOST"), (3, "w3", "FAILED", "WORKER_LOST")]
    assert all(a.finished_at >= a.started_at for a in attempts)


async def end_backoff(jobs: JobStore, job_id: str) -> None:
    async with jobs._db.write_session() as session, session.begin():
        await session.execute(update(JobRow).where(JobRow.job_id == job_id).values(not_before=None))


async def test_claim_sets_a_deadline_and_overdue_finds_it(stores):
    _, jobs = stores
    job = await running_job(jobs)
    assert job.deadline_at is not None and 59 <= (job.deadline_at - job.updated_at).total_seconds() <= 61
    assert await jobs.overdue(as_of=utc_now()) == []
    deadline = utc_now()
    async with jobs._db.write_session() as session, session.begin():
        await session.execute(update(JobRow).where(JobRow.job_id == job.job_id).values(deadline_at=deadline))
    assert [row.job_id for row in await jobs.overdue(as_of=deadline)] == [job.job_id]
    # As of a moment before its deadline (a broker tick that waited in the inbox) it was not overdue.
    assert await jobs.overdue(as_of=deadline - timedelta(milliseconds=1)) == []


async def test_permanent_failure_fails_at_once(stores):
    _, jobs = stores
    job = await running_job(jobs)
    outcome = await jobs.fail_attempt(job.job_id, 1, ErrorCode.INVALID_SCRIPT, "empty", retryable=False)
    assert outcome.job.status == "FAILED" and outcome.job.attempt == 1


async def test_progress_is_latest_wins_and_never_goes_back(stores):
    _, jobs = stores
    job = await running_job(jobs)

    def progress(seq: int, value: int) -> Progress:
        return Progress(job_id=job.job_id, video_id="v", attempt=1, seq=seq, step=Step.GENERATE_TTS, progress=value, ts=time.time())

    applied, stale = await jobs.apply_progress_batch([progress(2, 30)])
    assert applied[0].job.progress == 30 and stale == 0
    assert await jobs.apply_progress_batch([progress(1, 10)]) == ([], 1), "an older event was applied"
    applied, _ = await jobs.apply_progress_batch([progress(3, 20)])
    assert applied[0].job.progress == 30
    events = await jobs.events_after(job.job_id, 0)
    assert [event.seq for event in events] == list(range(1, len(events) + 1))
    assert [event.status for event in events] == ["PENDING", "RUNNING", "RUNNING", "RUNNING"]


async def test_a_burst_stores_every_new_event_in_renderer_order(stores):
    _, jobs = stores
    job = await running_job(jobs)
    burst = [
        Progress(job_id=job.job_id, video_id="v", attempt=1, seq=seq, step=step, progress=value, ts=time.time())
        for seq, step, value in [(2, Step.GENERATE_TTS, 9), (1, Step.GENERATE_TTS, 5), (3, Step.RENDER_SLIDES, 12),
                                 (5, Step.COMPOSE_VIDEO, 40), (4, Step.RENDER_SLIDES, 20)]
    ] + [Progress(job_id="job-unknown", video_id="v", attempt=1, seq=1, step=Step.GENERATE_TTS, progress=1, ts=0.0),
         Progress(job_id=job.job_id, video_id="v", attempt=2, seq=6, step=Step.COMPOSE_VIDEO, progress=50, ts=0.0)]
    applied, stale = await jobs.apply_progress_batch(burst)
    assert [(t.event.seq, t.event.step, t.event.progress) for t in applied] == [
        (3, "GENERATE_TTS", 5), (4, "GENERATE_TTS", 9), (5, "RENDER_SLIDES", 12), (6, "RENDER_SLIDES", 20),
        (7, "COMPOSE_VIDEO", 40)]
    assert stale == 2
    assert (await jobs.find(job.job_id)).last_seq == 7


async def test_published_set_moves_only_to_a_newer_job(stores):
    _, jobs = stores
    older = await running_job(jobs)
    await jobs.finish(succeeded(older.job_id, 1), "w1")
    newer = await running_job(jobs)
    await jobs.finish(succeeded(newer.job_id, 1), "w1")
    job = await jobs.published("v")
    assert job.job_id == newer.job_id and job.published_at is not None
    assert msgspec.convert(job.assets, RenderedAssets).duration_sec == 1.0


async def test_a_job_waits_for_a_worker_offering_its_engine_and_says_why(stores):
    scripts, jobs = stores
    await scripts.put("c", "s", Script(title="t", voice="coqui:vits-ko", scenes=[Scene(narration="안녕.")]), "tester")
    await scripts.approve("c", "s")
    job, _, _ = await jobs.create("c", "s", "tester")
    assert job.engine == "coqui"
    assert await jobs.claim_next("w1", ESPEAK) is None, "an espeak-only worker got a coqui job"
    noted, waiting = await jobs.note_waiting(ESPEAK)
    assert waiting == {"coqui": 1} and [t.job.message for t in noted] == [
        "Waiting for a renderer that offers the coqui TTS engine (connected renderers offer: espeak)"]
    assert (await jobs.note_waiting(ESPEAK))[0] == [], "the same reason was announced twice"
    transition, _ = await jobs.claim_next("w2", {"espeak", "coqui"})
    assert transition.job.job_id == job.job_id
