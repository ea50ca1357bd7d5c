"""The job lifecycle as a table: every named transition tried from every state, on a real
database. The expected table is written out here, apart from the code: a legal pair must land
where it says, and every other pair must change nothing at all (no status, no attempt, no
event), so a wrong edge in lifecycle.py fails a row."""

import contextlib
import time

import pytest
from sqlalchemy import func, select, update

from libs.contracts.bus import JobFinished, Outcome, Progress, RenderedAssets
from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import Scene, Script
from services.api.db.models import AttemptRow, JobEventRow, JobRow
from services.api.errors import JobNotCancelable
from services.api.jobs.lifecycle import JobLifecycle
from services.api.scripts.store import ScriptStore

pytestmark = pytest.mark.anyio
MAX_ATTEMPTS = 3
WORKER = "w1"

# state -> the job's status after each event; "=" means nothing may change.
EXPECTED = {
    #                 claim      progress   succeed      fail_retry  fail_final  stopped     lost       give_back  cancel
    "PENDING": ("RUNNING", "=", "=", "=", "=", "=", "=", "=", "CANCELED"),
    "RUNNING": ("=", "RUNNING", "SUCCEEDED", "PENDING", "FAILED", "CANCELED", "PENDING", "PENDING", "CANCELED"),
    "RUNNING_LAST": ("=", "RUNNING", "SUCCEEDED", "FAILED", "FAILED", "CANCELED", "FAILED", "PENDING", "CANCELED"),
    "SUCCEEDED": ("=", "=", "=", "=", "=", "=", "=", "=", "="),
    "FAILED": ("=", "=", "=", "=", "=", "=", "=", "=", "="),
    "CANCELED": ("=", "=", "=", "=", "=", "=", "=", "=", "="),
}
EVENTS = ("claim", "progress", "succeed", "fail_retry", "fail_final", "stopped", "lost", "give_back", "cancel")
CASES = [(state, event, after) for state, row in EXPECTED.items() for event, after in zip(EVENTS, row, strict=True)]


def outcome(job: JobRow, kind: Outcome, **fields) -> JobFinished:
    return JobFinished(job_id=job.job_id, attempt=job.attempt, outcome=kind, **fields)


async def apply(lifecycle: JobLifecycle, event: str, job: JobRow) -> None:
    match event:
        case "claim":
            await lifecycle.claim("w9", {"espeak"})
        case "progress":
            await lifecycle.record_progress(
                [
                    Progress(
                        job_id=job.job_id,
                        video_id="v",
                        attempt=job.attempt,
                        seq=99,
                        step=Step.RENDER_SLIDES,
                        progress=60,
                        ts=time.time(),
                    )
                ]
            )
        case "succeed":
            await lifecycle.finish(outcome(job, Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=1.0)), WORKER)
        case "fail_retry" | "fail_final":
            await lifecycle.finish(
                outcome(job, Outcome.FAILED, error_code=ErrorCode.TTS_FAILED, error_message="x", retryable=event == "fail_retry"),
                WORKER,
            )
        case "stopped":
            await lifecycle.finish(outcome(job, Outcome.CANCELED), WORKER)
        case "lost":
            await lifecycle.fail_attempt(job.job_id, job.attempt, ErrorCode.WORKER_LOST, "lost")
        case "give_back":
            await lifecycle.give_back(job.job_id, job.attempt)
        case "cancel":
            with contextlib.suppress(JobNotCancelable):  # refused: the table says whether anything may change
                await lifecycle.cancel("v", job.job_id)


async def job_in(db, lifecycle: JobLifecycle, state: str) -> JobRow:
    job, _ = await lifecycle.create("v", "s", "tester")
    if state == "CANCELED":
        await lifecycle.cancel("v", job.job_id)
    elif state != "PENDING":
        for attempt in range(1, MAX_ATTEMPTS + 1 if state == "RUNNING_LAST" else 2):
            claimed = await lifecycle.claim(WORKER, {"espeak"})
            assert claimed is not None and claimed.job.attempt == attempt
            if state == "RUNNING_LAST" and attempt < MAX_ATTEMPTS:
                await lifecycle.fail_attempt(job.job_id, attempt, ErrorCode.WORKER_LOST, "set-up")
                async with db.write_session() as session, session.begin():  # its backoff, over at once
                    await session.execute(update(JobRow).where(JobRow.job_id == job.job_id).values(not_before=None))
        if state == "SUCCEEDED":
            await apply(lifecycle, "succeed", claimed.job)
        elif state == "FAILED":
            await apply(lifecycle, "fail_final", claimed.job)
    return await snapshot_job(db, job.job_id)


async def snapshot_job(db, job_id: str) -> JobRow:
    async with db.read_session() as session:
        return await session.get(JobRow, job_id)


async def everything(db, job_id: str) -> tuple:
    """The job's row, its attempts and how many events it has: what "nothing changed" compares."""
    async with db.read_session() as session:
        job = await session.get(JobRow, job_id)
        row = {column.key: getattr(job, column.key) for column in JobRow.__table__.columns}
        attempts = [
            (a.attempt, a.worker_id, a.outcome, a.finished_at)
            for a in await session.scalars(select(AttemptRow).where(AttemptRow.job_id == job_id).order_by(AttemptRow.attempt))
        ]
        events = await session.scalar(select(func.count()).select_from(JobEventRow).where(JobEventRow.job_id == job_id))
    return row, attempts, events


@pytest.mark.parametrize(("state", "event", "after"), CASES, ids=[f"{state}-{event}" for state, event, _ in CASES])
async def test_every_event_in_every_state(db, state, event, after):
    scripts = ScriptStore(db)
    await scripts.put("v", "s", Script(title="t", scenes=[Scene(narration="안녕.")]), "tester")
    await scripts.approve("v", "s")
    announced = []
    lifecycle = JobLifecycle(db, announced.append, max_attempts=MAX_ATTEMPTS, attempt_timeout=lambda script: 60.0)
    job = await job_in(db, lifecycle, state)
    before = await everything(db, job.job_id)
    announced.clear()

    await apply(lifecycle, event, job)

    now = await everything(db, job.job_id)
    if after == "=":
        assert now == before, f"{event} changed a {state} job"
        assert announced == [], "an event was announced for no change"
        return
    assert now[0]["status"] == after, f"{event} moved a {state} job to {now[0]['status']}, not {after}"
    assert now[2] > before[2] and [t.event.seq for t in announced] == list(range(before[2] + 1, now[2] + 1)), (
        "every change is stored as the job's next event and announced once committed"
    )
    assert announced[-1].job.status == after
