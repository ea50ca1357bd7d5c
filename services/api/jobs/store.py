"""Job persistence. Every state change is one conditional UPDATE (DESIGN §4) that also
numbers and stores the event announcing it, in the same transaction, so a late or
duplicate message can never move a job backwards and a resuming client misses nothing.
A change to a terminal status also writes its webhook events into the outbox there.
"""

from collections import defaultdict
from dataclasses import dataclass
from itertools import zip_longest
from datetime import datetime, timedelta
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import msgspec
from sqlalchemy import CTE, ColumnElement, Integer, String, Text, bindparam, func, insert, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.contracts.bus import JobFinished, Outcome, Progress
from libs.contracts.codes import ErrorCode, JobStatus, Step
from libs.contracts.script import Script
from services.api.db.engine import Database
from services.api.db.models import AttemptRow, Base, JobEventRow, JobRow, PublishedRow, ScriptRow, utc_now
from services.api.errors import JobNotCancelable, JobNotFound, ScriptNotApproved, ScriptNotFound
from services.api.jobs.retry import backoff_delay
from services.api.scripts.schemas import ScriptStatus
from services.api.scripts.store import decode_script
from services.api.webhooks.outbox import WebhookOutbox

PENDING, RUNNING = JobStatus.PENDING.value, JobStatus.RUNNING.value


@dataclass(frozen=True)
class Transition:
    """A committed state change: the job as it is now and the event that announces it."""

    job: JobRow
    event: JobEventRow
    status_changed: bool
    """The job was created or its status changed (not just its progress)."""


AttemptTimeout = Callable[[Script], float]
"""Seconds one attempt of this script may run."""


class JobStore:
    def __init__(
        self, db: Database, max_attempts: int, attempt_timeout: AttemptTimeout, outbox: WebhookOutbox | None = None,
    ) -> None:
        self._db = db
        self._max_attempts = max_attempts
        self._attempt_timeout = attempt_timeout
        self._outbox = outbox

    # --- requests ----------------------------------------------------------------------

    async def create(self, video_id: str, script_id: str, created_by: str) -> tuple[JobRow, bool, Transition | None]:
        """Inserts a PENDING job with its first event, or returns the video's active one:
        (job, created, event). The API's hottest write: four statements, no ORM flush."""
        now = utc_now()
        job = JobRow(
            job_id=f"job-{uuid4()}", video_id=video_id, script_id=script_id, status=PENDING, step=None,
            progress=0, message="Queued", attempt=0, max_attempts=self._max_attempts, last_seq=1,
            renderer_seq=0, created_by=created_by, created_at=now, updated_at=now,
        )
        event = event_of(job, now)
        async with self._db.write_session() as session, session.begin():
            status = await session.scalar(
                select(ScriptRow.status).where(ScriptRow.video_id == video_id, ScriptRow.script_id == script_id)
            )
            if status is None:
                raise ScriptNotFound(f"Script {script_id!r} of video {video_id!r} does not exist.", video_id=video_id, script_id=script_id)
            if status != ScriptStatus.APPROVED.value:
                raise ScriptNotApproved("Only an APPROVED script can be rendered.", video_id=video_id, script_id=script_id)
            try:
                # A failed statement leaves SQLite's transaction, and the session, usable.
                await session.execute(insert(JobRow.__table__), _columns(job))
            except IntegrityError:
                # The partial unique index found this video's active job.
                active = await session.scalar(
                    select(JobRow).where(JobRow.video_id == video_id, JobRow.status.in_((PENDING, RUNNING)))
                )
                return active, False, None
            await session.execute(insert(JobEventRow.__table__), _columns(event))
        return job, True, Transition(job=job, event=event, status_changed=True)

    async def cancel(self, video_id: str, job_id: str) -> tuple[JobRow, Transition | None, str | None]:
        """Cancels a PENDING/RUNNING job: (job, event or None if already CANCELED, worker to stop)."""
        async with self._db.write_session() as session, session.begin():
            job = await self._require(session, video_id, job_id)
            if job.status == JobStatus.CANCELED.value:
                return job, None, None
            if job.status not in (PENDING, RUNNING):
                raise JobNotCancelable(f"Job {job_id} already ended {job.status}.", job_id=job_id, status=job.status)
            worker = job.worker_id if job.status == RUNNING else None
            transition = await self._transition(
                session, job_id, [JobRow.status == job.status, JobRow.attempt == job.attempt],
                {"status": JobStatus.CANCELED.value, "finished_at": utc_now()}, "Canceled",
            )
            if worker is not None:
                # finished_at stays open until the worker confirms it really stopped.
                await self._record_attempt(session, job_id, job.attempt, Outcome.CANCELED, finished=False)
            return transition.job, transition, worker

    async def get_with_attempts(self, video_id: str, job_id: str) -> tuple[JobRow, list[AttemptRow]]:
        """The job and its attempts in one query (the job detail is the API's hottest read)."""
        async with self._db.read_session() as session:
            rows = (await session.execute(
                select(JobRow, AttemptRow)
                .outerjoin(AttemptRow, AttemptRow.job_id == JobRow.job_id)
                .where(JobRow.job_id == job_id, JobRow.video_id == video_id)
                .order_by(AttemptRow.attempt)
            )).all()
        if not rows:
            raise JobNotFound(f"Job {job_id!r} of video {video_id!r} does not exist.", video_id=video_id, job_id=job_id)
        return rows[0][0], [attempt for _, attempt in rows if attempt is not None]

    async def page(self, video_id: str, status: JobStatus | None, limit: int, offset: int) -> tuple[list[JobRow], int]:
        conditions = [JobRow.video_id == video_id]
        if status is not None:
            conditions.append(JobRow.status == status.value)
        async with self._db.read_session() as session:
            total = await session.scalar(select(func.count()).select_from(JobRow).where(*conditions))
            rows = await session.scalars(
                select(JobRow).where(*conditions).order_by(JobRow.created_at.desc(), JobRow.job_id.desc()).limit(limit).offset(offset)
            )
            return list(rows), total or 0

    async def published(self, video_id: str) -> tuple[PublishedRow, JobRow] | None:
        async with self._db.read_session() as session:
            found = (
                await session.execute(
                    select(PublishedRow, JobRow).join(JobRow, JobRow.job_id == PublishedRow.job_id).where(PublishedRow.video_id == video_id)
                )
            ).first()
            return (found[0], found[1]) if found else None

    # --- progress stream ---------------------------------------------------------------

    async def latest_job(self, video_id: str, status: JobStatus | None = None) -> JobRow | None:
        conditions = [JobRow.video_id == video_id]
        if status is not None:
            conditions.append(JobRow.status == status.value)
        async with self._db.read_session() as session:
            return await session.scalar(select(JobRow).where(*conditions).order_by(JobRow.created_at.desc()).limit(1))

    async def find(self, job_id: str) -> JobRow | None:
        async with self._db.read_session() as session:
            return await session.get(JobRow, job_id)

    async def running_jobs(self) -> list[JobRow]:
        async with self._db.read_session() as session:
            return list(await session.scalars(select(JobRow).where(JobRow.status == RUNNING)))

    async def attempts_of(self, job_ids: list[str]) -> dict[str, list[AttemptRow]]:
        found: dict[str, list[AttemptRow]] = {job_id: [] for job_id in job_ids}
        async with self._db.read_session() as session:
            rows = await session.scalars(
                select(AttemptRow).where(AttemptRow.job_id.in_(job_ids)).order_by(AttemptRow.job_id, AttemptRow.attempt)
            )
            for row in rows:
                found[row.job_id].append(row)
        return found

    async def overdue(self) -> list[JobRow]:
        """RUNNING jobs whose attempt is past its deadline."""
        async with self._db.read_session() as session:
            return list(await session.scalars(
                select(JobRow).where(JobRow.status == RUNNING, JobRow.deadline_at <= utc_now())
            ))

    async def next_retry_at(self) -> datetime | None:
        async with self._db.read_session() as session:
            return await session.scalar(select(func.min(JobRow.not_before)).where(JobRow.status == PENDING))

    async def events_after(self, job_id: str, seq: int) -> list[JobEventRow]:
        async with self._db.read_session() as session:
            rows = await session.scalars(
                select(JobEventRow).where(JobEventRow.job_id == job_id, JobEventRow.seq > seq).order_by(JobEventRow.seq)
            )
            return list(rows)

    # --- dispatcher --------------------------------------------------------------------

    async def claim_next(self, worker_id: str) -> tuple[Transition, Script] | None:
        """Moves the oldest PENDING job to RUNNING on `worker_id`, starting its next attempt.
        Returns the transition and the job's script (decoded once, for the deadline and the Render)."""
        async with self._db.write_session() as session, session.begin():
            now = utc_now()
            job = await session.scalar(
                select(JobRow)
                .where(JobRow.status == PENDING, or_(JobRow.not_before.is_(None), JobRow.not_before <= now))
                .order_by(JobRow.created_at, JobRow.job_id)
                .limit(1)
            )
            if job is None:
                return None
            script = await session.get(ScriptRow, (job.video_id, job.script_id))
            script = decode_script(script)
            timeout = self._attempt_timeout(script)
            attempt = job.attempt + 1
            transition = await self._transition(
                session, job.job_id, [JobRow.status == PENDING, JobRow.attempt == job.attempt],
                {"status": RUNNING, "attempt": attempt, "worker_id": worker_id, "renderer_seq": 0,
                 "started_at": job.started_at or now, "not_before": None,
                 "deadline_at": now + timedelta(seconds=timeout)},
                f"Attempt {attempt}/{job.max_attempts} started",
            )
            session.add(AttemptRow(job_id=job.job_id, attempt=attempt, worker_id=worker_id, started_at=now))
            return transition, script

    async def unclaim(self, job_id: str, attempt: int) -> Transition | None:
        """The Render never reached the worker: give the attempt back and queue the job again."""
        async with self._db.write_session() as session, session.begin():
            transition = await self._transition(
                session, job_id, [JobRow.status == RUNNING, JobRow.attempt == attempt],
                {"status": PENDING, "attempt": attempt - 1, "worker_id": None}, "Queued",
            )
            if transition is not None:
                await session.delete(await session.get(AttemptRow, (job_id, attempt)))
            return transition

    async def apply_progress_batch(self, batch: list[Progress]) -> tuple[list[Transition], int]:
        """Stores a burst of progress in one transaction. Within the burst only the newest
        event of each job, attempt and step is kept: the bar moves the same, and no step
        change is ever lost. Returns the applied transitions and how many events were stale
        (unknown job, other attempt, older seq)."""
        newest: dict[tuple[str, int, Step], Progress] = {}
        for progress in batch:
            key = (progress.job_id, progress.attempt, progress.step)
            if key not in newest or newest[key].seq < progress.seq:
                newest[key] = progress
        by_job: dict[str, list[Progress]] = defaultdict(list)
        for progress in sorted(newest.values(), key=lambda p: (p.job_id, p.seq)):
            by_job[progress.job_id].append(progress)
        applied = []
        async with self._db.write_session() as session, session.begin():
            # Round n holds each job's n-th event, so one UPDATE applies a round; a burst
            # usually has one round, two when it crosses a step.
            for round_ in zip_longest(*by_job.values()):
                applied += await self._progress_transitions(session, [p for p in round_ if p is not None])
        return applied, len(newest) - len(applied)

    async def finish(self, result: JobFinished, worker_id: str) -> Transition | None:
        """Applies one attempt's outcome reported by `worker_id`; None when the message is
        stale, a duplicate, or from a worker that does not run that attempt."""
        job = await self.find(result.job_id)
        if job is None or job.worker_id != worker_id or job.attempt != result.attempt:
            return None
        if result.outcome is Outcome.SUCCEEDED:
            return await self._succeed(result)
        if result.outcome is Outcome.CANCELED:
            return await self._confirm_stopped(result)
        return await self.fail_attempt(
            result.job_id, result.attempt, result.error_code or ErrorCode.RENDER_FAILED,
            result.error_message or "Render failed", retryable=result.retryable,
        )

    async def fail_attempt(self, job_id: str, attempt: int, error_code: ErrorCode, error_message: str, *, retryable: bool) -> Transition | None:
        """A failed attempt goes back to PENDING while attempts remain and the error is retryable."""
        async with self._db.write_session() as session, session.begin():
            job = await session.get(JobRow, job_id)
            if job is None or job.status != RUNNING or job.attempt != attempt:
                return None
            await self._record_attempt(session, job_id, attempt, Outcome.FAILED, error_code, error_message)
            if retryable and attempt < job.max_attempts:
                delay = backoff_delay(attempt)
                return await self._transition(
                    session, job_id, [JobRow.status == RUNNING, JobRow.attempt == attempt],
                    {"status": PENDING, "worker_id": None, "error_code": error_code.value, "error_message": error_message,
                     "not_before": utc_now() + timedelta(seconds=delay)},
                    f"Attempt {attempt} failed ({error_code.value}); retrying in {delay:.1f} s",
                )
            return await self._transition(
                session, job_id, [JobRow.status == RUNNING, JobRow.attempt == attempt],
                {"status": JobStatus.FAILED.value, "error_code": error_code.value, "error_message": error_message,
                 "finished_at": utc_now()},
                error_message,
            )

    async def _succeed(self, result: JobFinished) -> Transition | None:
        assets = msgspec.to_builtins(result.assets)
        async with self._db.write_session() as session, session.begin():
            transition = await self._transition(
                session, result.job_id, [JobRow.status == RUNNING, JobRow.attempt == result.attempt],
                {"status": JobStatus.SUCCEEDED.value, "step": Step.PUBLISH_ASSETS.value, "progress": 100,
                 "assets": assets, "error_code": None, "error_message": None, "finished_at": utc_now()},
                "Render finished", assets=assets,
            )
            if transition is not None:
                await self._record_attempt(session, result.job_id, result.attempt, Outcome.SUCCEEDED)
                await self._publish(session, transition.job)
            return transition

    async def _confirm_stopped(self, result: JobFinished) -> Transition | None:
        """A worker stopped an attempt on request: close the attempt's record; if the job was
        somehow still RUNNING (the worker stopped on its own), it ends CANCELED too."""
        async with self._db.write_session() as session, session.begin():
            await session.execute(
                update(AttemptRow)
                .where(AttemptRow.job_id == result.job_id, AttemptRow.attempt == result.attempt,
                       AttemptRow.finished_at.is_(None))
                .values(finished_at=utc_now(), outcome=Outcome.CANCELED.value)
            )
            return await self._transition(
                session, result.job_id, [JobRow.status == RUNNING, JobRow.attempt == result.attempt],
                {"status": JobStatus.CANCELED.value, "finished_at": utc_now()},
                "Canceled by the renderer",
            )

    @staticmethod
    async def _record_attempt(
        session: AsyncSession, job_id: str, attempt: int, outcome: Outcome,
        error_code: ErrorCode | None = None, error_message: str | None = None, *, finished: bool = True,
    ) -> None:
        await session.execute(
            update(AttemptRow)
            .where(AttemptRow.job_id == job_id, AttemptRow.attempt == attempt, AttemptRow.outcome.is_(None))
            .values(outcome=outcome.value, error_code=error_code.value if error_code else None,
                    error_message=error_message, finished_at=utc_now() if finished else None)
        )

    @staticmethod
    async def _publish(session: AsyncSession, job: JobRow) -> None:
        """The published set changes only when a job newer than the published one succeeds."""
        current = await session.scalar(
            select(JobRow).join(PublishedRow, PublishedRow.job_id == JobRow.job_id).where(PublishedRow.video_id == job.video_id)
        )
        if current is not None and current.created_at > job.created_at:
            return
        await session.merge(PublishedRow(video_id=job.video_id, job_id=job.job_id, published_at=job.finished_at))

    # --- the one way state changes -----------------------------------------------------

    async def _transition(
        self, session: AsyncSession, job_id: str, expected: list[ColumnElement[bool]], values: dict[str, Any],
        message: str, assets: dict[str, Any] | None = None,
    ) -> Transition | None:
        now: datetime = utc_now()
        if values.get("status", RUNNING) != RUNNING:
            values = {**values, "deadline_at": None}  # only a running attempt has a deadline
        job = await session.scalar(
            update(JobRow)
            .where(JobRow.job_id == job_id, *expected)
            .values(**values, message=message, updated_at=now, last_seq=JobRow.last_seq + 1)
            .returning(JobRow)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if job is None:
            return None
        event = event_of(job, now, assets)
        session.add(event)
        status_changed = "status" in values
        if self._outbox is not None and status_changed and JobStatus(job.status).is_terminal:
            self._outbox.enqueue(session, job)
        return Transition(job=job, event=event, status_changed=status_changed)

    @staticmethod
    async def _progress_transitions(session: AsyncSession, reports: list[Progress]) -> list[Transition]:
        """`_transition` for a round of progress reports, at most one per job, as a single
        conditional UPDATE: a busy bus costs a few statements per burst, not a few per event."""
        now = utc_now()
        reported = _as_table(reports)
        jobs = await session.scalars(
            update(JobRow)
            .where(JobRow.job_id == reported.c.job_id, JobRow.status == RUNNING, JobRow.attempt == reported.c.attempt,
                   JobRow.renderer_seq < reported.c.seq)
            .values(step=reported.c.step, progress=func.max(JobRow.progress, reported.c.progress),
                    renderer_seq=reported.c.seq, message=reported.c.message, updated_at=now, last_seq=JobRow.last_seq + 1)
            .returning(JobRow)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        transitions = [Transition(job=job, event=event_of(job, now), status_changed=False) for job in jobs]
        session.add_all(transition.event for transition in transitions)
        return transitions

    @staticmethod
    async def _require(session: AsyncSession, video_id: str, job_id: str) -> JobRow:
        job = await session.get(JobRow, job_id)
        if job is None or job.video_id != video_id:
            raise JobNotFound(f"Job {job_id!r} of video {video_id!r} does not exist.", video_id=video_id, job_id=job_id)
        return job


def event_of(job: JobRow, now: datetime, assets: dict[str, Any] | None = None) -> JobEventRow:
    """The event announcing the job as it is now: its last_seq, status and message."""
    return JobEventRow(
        job_id=job.job_id, seq=job.last_seq, video_id=job.video_id, status=job.status, step=job.step,
        progress=job.progress, message=job.message, error_code=job.error_code if job.status != RUNNING else None,
        assets=assets, created_at=now,
    )


def _as_table(reports: list[Progress]) -> CTE:
    """The reports as a table of bound parameters: unlike a VALUES literal, its statement is
    compiled once per number of reports and then comes from SQLAlchemy's cache."""
    rows = [
        select(*(bindparam(f"{name}_{n}", value, type_=type_).label(name) for name, type_, value in (
            ("job_id", String, p.job_id), ("attempt", Integer, p.attempt), ("seq", Integer, p.seq),
            ("step", String, p.step.value), ("progress", Integer, p.progress), ("message", Text, p.message),
        )))
        for n, p in enumerate(reports)
    ]
    return union_all(*rows).cte("reported")


def _columns(row: Base) -> dict[str, Any]:
    """A new row's column values, for a Core INSERT that skips the ORM's unit of work."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}
