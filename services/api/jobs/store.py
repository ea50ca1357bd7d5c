"""Job persistence. Every state change is one conditional UPDATE (DESIGN §4) that also
numbers and stores the event announcing it, in the same transaction, so a late or
duplicate message can never move a job backwards and a resuming client misses nothing.
A change to a terminal status also writes its webhook events into the outbox there.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, NamedTuple
from uuid import uuid4

import msgspec
from sqlalchemy import Insert, Row, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.contracts.bus import JobFinished, Outcome, Progress
from libs.contracts.codes import ErrorCode, JobStatus, Step
from libs.contracts.script import LexiconEntry, Script
from libs.contracts.voices import required_engine
from libs.redaction import redact
from services.api.db.engine import Database
from services.api.db.inserts import columns_of, insert_into
from services.api.db.models import (
    ACTIVE_JOB, AttemptRow, JobEventRow, JobLexiconRow, JobRow, PublishedRow, ScriptRow, VideoLexiconRow, utc_now,
)
from services.api.dispatch.wake import wake_dispatcher
from services.api.errors import JobNotCancelable, JobNotFound, ScriptNotApproved, ScriptNotFound
from services.api.jobs.retry import backoff_delay
from services.api.jobs.states import check_transition
from services.api.lexicon.store import decode_entries, job_snapshot
from services.api.scripts.schemas import ScriptStatus
from services.api.scripts.store import decode_script
from services.api.webhooks.outbox import WebhookOutbox

PENDING, RUNNING = JobStatus.PENDING.value, JobStatus.RUNNING.value


class _JobFields(msgspec.Struct):
    """The fields of a stored script that a new job needs (its engine, its lexicon snapshot);
    the rest is skipped undecoded."""

    voice: str | None = None
    lexicon: list[LexiconEntry] | None = None


class RenderInput(NamedTuple):
    """What a claimed job's Render carries besides its ids."""

    script: Script
    lexicon: list[LexiconEntry]
    """The lexicon the job was created with (the video's and the script's merged)."""


@dataclass(frozen=True)
class Transition:
    """A committed state change: the job as it is now and the event that announces it."""

    job: JobRow
    event: JobEventRow
    status_changed: bool
    """The job was created or its status changed (not just its progress)."""


AttemptTimeout = Callable[[Script], float]
"""Seconds one attempt of this script may run."""


class Verdict(Enum):
    """What became of an attempt's outcome: the store decides, in the transaction that writes it."""

    APPLIED = "applied"
    """This call recorded the attempt's end."""
    DUPLICATE = "duplicate"
    """The attempt already ended with this very outcome (a resend)."""
    STALE = "stale"
    """Not this worker's attempt, no such attempt, or it already ended otherwise (a conflict)."""


@dataclass(frozen=True)
class Finish:
    verdict: Verdict
    transition: Transition | None = None
    """The job's status change, when the outcome made one."""
    progress: list[Transition] = field(default_factory=list)
    """The attempt's final progress, stored with the outcome (before its status change)."""
    discard: tuple[str, str] | None = None
    """(video, job) whose files a success published after the attempt was canceled: unwanted."""

    @property
    def transitions(self) -> list[Transition]:
        return [*self.progress, *([self.transition] if self.transition else [])]


class JobStore:
    def __init__(
        self, db: Database, max_attempts: int, attempt_timeout: AttemptTimeout, outbox: WebhookOutbox | None = None,
        voice_aliases: dict[str, str] | None = None,
    ) -> None:
        self._db = db
        self._max_attempts = max_attempts
        self._attempt_timeout = attempt_timeout
        self._outbox = outbox
        self._voice_aliases = voice_aliases or {}

    # --- requests ----------------------------------------------------------------------

    async def create(self, video_id: str, script_id: str, created_by: str) -> tuple[JobRow | Row, bool, Transition | None]:
        """Inserts a PENDING job with its first event, or returns the video's active one:
        (job, created, event). The API's hottest write: four Core statements built once, on a
        connection rather than a session (no unit of work to keep), and a fifth when the job
        has a lexicon: the video's as it is now (read with the script) merged with the script's,
        kept with the job so a later edit of the video's lexicon does not change it."""
        now = utc_now()
        async with self._db.writer.begin() as connection:
            script = (await connection.execute(_SCRIPT_TO_RENDER, {"video_id": video_id, "script_id": script_id})).first()
            if script is None:
                raise ScriptNotFound(f"Script {script_id!r} of video {video_id!r} does not exist.", video_id=video_id, script_id=script_id)
            if script.status != ScriptStatus.APPROVED.value:
                raise ScriptNotApproved("Only an APPROVED script can be rendered.", video_id=video_id, script_id=script_id)
            fields = msgspec.json.decode(script.body, type=_JobFields)
            job = JobRow(
                job_id=f"job-{uuid4()}", video_id=video_id, script_id=script_id, status=PENDING, step=None,
                progress=0, message="Queued", attempt=0, max_attempts=self._max_attempts, last_seq=1,
                renderer_seq=0, created_by=created_by, created_at=now, updated_at=now,
                engine=required_engine(fields.voice, self._voice_aliases),
            )
            while not await connection.scalar(_INSERT_UNLESS_ACTIVE[self._db.dialect], columns_of(job)):
                # The partial unique index holds this video's active job. On PostgreSQL a
                # concurrent insert is waited for and then seen; if that job ended in between,
                # the insert is tried again.
                active = (await connection.execute(_ACTIVE_JOB_OF_VIDEO, {"video_id": video_id})).first()
                if active is not None:
                    return active, False, None
            lexicon = job_snapshot(script.video_lexicon, fields.lexicon)
            if lexicon is not None:
                await connection.execute(_INSERT_JOB_LEXICON, {"job_id": job.job_id, "entries": lexicon})
            event = event_of(job, now)
            await connection.execute(_INSERT_EVENT, columns_of(event))
            await wake_dispatcher(connection, self._db.dialect)
        return job, True, Transition(job=job, event=event, status_changed=True)

    async def cancel(self, video_id: str, job_id: str) -> tuple[JobRow, Transition | None, str | None]:
        """Cancels a PENDING/RUNNING job: (job, event or None if already CANCELED, worker to stop)."""
        async with self._db.write_session() as session, session.begin():
            # Locked: on PostgreSQL the dispatcher could otherwise claim the job between this
            # read and the UPDATE below (SQLite's one writer cannot interleave).
            job = await self._require(session, video_id, job_id, lock=True)
            if job.status == JobStatus.CANCELED.value:
                return job, None, None
            if job.status not in (PENDING, RUNNING):
                raise JobNotCancelable(f"Job {job_id} already ended {job.status}.", job_id=job_id, status=job.status)
            worker = job.worker_id if job.status == RUNNING else None
            if worker is not None and not await self._end_attempt(session, job_id, job.attempt, Outcome.CANCELED, finished=False):
                # The attempt's outcome was recorded first, in another transaction: it stands.
                raise JobNotCancelable(f"Job {job_id} is already ending.", job_id=job_id, status=job.status)
            transition = await self._transition(
                session, job_id, JobStatus(job.status), JobStatus.CANCELED, job.attempt,
                {"finished_at": utc_now()}, "Canceled",
            )
            if worker is not None:
                await wake_dispatcher(session, self._db.dialect)  # its worker must be told, and only the dispatcher can
            return transition.job, transition, worker

    async def get_with_attempts(self, video_id: str, job_id: str) -> tuple[Row, list[Row]]:
        """The job and its attempts, as Core rows of their tables' columns (the job detail is
        the API's hottest read: no ORM identity map, statements built once)."""
        async with self._db.reader.connect() as connection:
            job = (await connection.execute(_JOB_OF_VIDEO, {"job_id": job_id, "video_id": video_id})).first()
            if job is None:
                raise JobNotFound(f"Job {job_id!r} of video {video_id!r} does not exist.", video_id=video_id, job_id=job_id)
            # A job that was never dispatched has no attempt rows to look for.
            attempts = (await connection.execute(_ATTEMPTS_OF_JOBS, {"job_ids": [job_id]})).all() if job.attempt else []
        return job, attempts

    async def page(self, video_id: str, status: JobStatus | None, limit: int, offset: int) -> tuple[list[Row], int, dict[str, list[Row]]]:
        """One page of the video's jobs, newest first, with the total and each job's attempts."""
        statuses = [status.value] if status is not None else list(JobStatus)
        parameters = {"video_id": video_id, "statuses": statuses, "limit": limit, "offset": offset}
        async with self._db.reader.connect() as connection:
            total = (await connection.execute(_JOB_COUNT, parameters)).scalar_one()
            rows = (await connection.execute(_JOB_PAGE, parameters)).all()
            attempts: dict[str, list[Row]] = {row.job_id: [] for row in rows}
            if any(row.attempt for row in rows):
                for attempt in await connection.execute(_ATTEMPTS_OF_JOBS, {"job_ids": list(attempts)}):
                    attempts[attempt.job_id].append(attempt)
        return rows, total, attempts

    async def published(self, video_id: str) -> Row | None:
        """The video's published job: its columns and `published_at`."""
        async with self._db.reader.connect() as connection:
            return (await connection.execute(_PUBLISHED_JOB, {"video_id": video_id})).first()

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

    async def unconfirmed_cancels(self) -> set[tuple[str, int]]:
        """(job_id, attempt) canceled by a request whose worker has not confirmed yet. The
        dispatcher tells those workers, whichever API instance took the request."""
        async with self._db.read_session() as session:
            rows = await session.execute(select(AttemptRow.job_id, AttemptRow.attempt).where(
                AttemptRow.outcome == Outcome.CANCELED.value, AttemptRow.finished_at.is_(None)))
            return {(job_id, attempt) for job_id, attempt in rows}

    async def running_jobs(self) -> list[JobRow]:
        async with self._db.read_session() as session:
            return list(await session.scalars(select(JobRow).where(JobRow.status == RUNNING)))

    async def overdue(self, as_of: datetime) -> list[JobRow]:
        """RUNNING jobs whose attempt's deadline had passed at `as_of`."""
        async with self._db.read_session() as session:
            return list(await session.scalars(
                select(JobRow).where(JobRow.status == RUNNING, JobRow.deadline_at <= as_of)
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

    async def claim_next(self, worker_id: str, engines: Iterable[str]) -> tuple[Transition, RenderInput] | None:
        """Moves the oldest PENDING job that a worker offering `engines` can run to RUNNING on
        `worker_id`, starting its next attempt. Returns the transition and what its Render
        carries: the job's script (decoded once, for the deadline and the Render) and lexicon."""
        async with self._db.write_session() as session, session.begin():
            now = utc_now()
            job = await session.scalar(
                select(JobRow)
                .where(JobRow.status == PENDING, or_(JobRow.not_before.is_(None), JobRow.not_before <= now),
                       or_(JobRow.engine.is_(None), JobRow.engine.in_(list(engines))))
                .order_by(JobRow.created_at, JobRow.job_id)
                .limit(1)
                # PostgreSQL: a row another transaction is claiming or cancelling is passed over,
                # not waited for (SQLite's write lock already serialises this transaction).
                .with_for_update(skip_locked=True, key_share=True)
            )
            if job is None:
                return None
            script = decode_script(await session.get(ScriptRow, (job.video_id, job.script_id)))
            lexicon = await session.scalar(_JOB_LEXICON, {"job_id": job.job_id})
            timeout = self._attempt_timeout(script)
            attempt = job.attempt + 1
            transition = await self._transition(
                session, job.job_id, JobStatus.PENDING, JobStatus.RUNNING, job.attempt,
                {"attempt": attempt, "worker_id": worker_id, "renderer_seq": 0,
                 "started_at": job.started_at or now, "not_before": None,
                 "deadline_at": now + timedelta(seconds=timeout)},
                f"Attempt {attempt}/{job.max_attempts} started",
            )
            session.add(AttemptRow(job_id=job.job_id, attempt=attempt, worker_id=worker_id, started_at=now))
            return transition, RenderInput(script, decode_entries(lexicon))

    async def note_waiting(self, offered: set[str]) -> tuple[list[Transition], dict[str, int]]:
        """PENDING jobs whose engine no connected worker offers say so in their message (once,
        as an event). Returns those transitions and how many jobs wait, by engine."""
        unrunnable = (JobRow.status == PENDING, JobRow.engine.is_not(None), JobRow.engine.not_in(list(offered)))
        async with self._db.read_session() as session:
            rows = (await session.execute(select(JobRow.job_id, JobRow.engine, JobRow.message).where(*unrunnable))).all()
        waiting: dict[str, int] = defaultdict(int)
        for _, engine, _ in rows:
            waiting[engine] += 1
        to_note = [(job_id, waiting_message(engine, offered)) for job_id, engine, message in rows
                   if message != waiting_message(engine, offered)]
        transitions = []
        if to_note:  # a write transaction only when some message changes
            async with self._db.write_session() as session, session.begin():
                for job_id, reason in to_note:
                    transition = await self._transition(session, job_id, JobStatus.PENDING, JobStatus.PENDING, None, {}, reason)
                    if transition is not None:
                        transitions.append(transition)
        return transitions, dict(waiting)

    async def unclaim(self, job_id: str, attempt: int) -> Transition | None:
        """The Render never reached the worker, or the worker refused it: give the attempt back
        and queue the job again at once."""
        async with self._db.write_session() as session, session.begin():
            transition = await self._transition(
                session, job_id, JobStatus.RUNNING, JobStatus.PENDING, attempt,
                {"attempt": attempt - 1, "worker_id": None}, "Queued",
            )
            if transition is not None:
                await session.delete(await session.get(AttemptRow, (job_id, attempt)))
            return transition

    async def apply_progress_batch(self, batch: list[Progress]) -> tuple[list[Transition], int]:
        """Stores a burst of progress in one transaction: every event newer than what its job
        has becomes the job's next numbered event. Returns the applied transitions and how many
        events were stale (unknown or ended job, other attempt, older seq)."""
        async with self._db.write_session() as session, session.begin():
            applied = await self._progress_transitions(session, batch)
        return applied, len(batch) - len(applied)

    async def finish(self, result: JobFinished, worker_id: str) -> Finish:
        """Applies one attempt's outcome reported by `worker_id`, with its final progress, in
        one transaction guarded by "this attempt has no outcome yet"."""
        # The renderer's words are shown to every reader of the job and sent to webhooks: a
        # credential echoed in a provider's error (a key in a URL, a token) stops here.
        error_message = redact(result.error_message) if result.error_message else None
        async with self._db.write_session() as session, session.begin():
            await self._lock_job(session, result.job_id)
            if not await self._end_attempt(
                session, result.job_id, result.attempt, result.outcome, result.error_code, error_message,
                worker_id=worker_id,
            ):
                return await self._already_ended(session, result, worker_id)
            progress = await self._progress_transitions(session, result.final_progress)
            if result.outcome is Outcome.SUCCEEDED:
                transition = await self._succeed(session, result)
            elif result.outcome is Outcome.CANCELED:
                # The worker stopped on its own (a cancel would have recorded the outcome first).
                transition = await self._transition(
                    session, result.job_id, JobStatus.RUNNING, JobStatus.CANCELED, result.attempt,
                    {"finished_at": utc_now()}, "Canceled by the renderer",
                )
            else:
                transition = await self._fail(
                    session, result.job_id, result.attempt, result.error_code or ErrorCode.RENDER_FAILED,
                    error_message or "Render failed", retryable=result.retryable,
                )
            return Finish(Verdict.APPLIED, transition, progress)

    async def fail_attempt(self, job_id: str, attempt: int, error_code: ErrorCode, error_message: str, *, retryable: bool) -> Transition | None:
        """The broker ends an attempt no worker reported on (lost worker, deadline): it goes back
        to PENDING while attempts remain and the error is retryable. None if it already ended."""
        async with self._db.write_session() as session, session.begin():
            await self._lock_job(session, job_id)
            if not await self._end_attempt(session, job_id, attempt, Outcome.FAILED, error_code, error_message):
                await self._close_canceled(session, job_id, attempt)
                return None
            return await self._fail(session, job_id, attempt, error_code, error_message, retryable=retryable)

    async def _fail(
        self, session: AsyncSession, job_id: str, attempt: int, error_code: ErrorCode, error_message: str, *, retryable: bool,
    ) -> Transition | None:
        job = await session.get(JobRow, job_id)
        values = {"error_code": error_code.value, "error_message": error_message}
        if retryable and attempt < job.max_attempts:
            delay = backoff_delay(attempt)
            return await self._transition(
                session, job_id, JobStatus.RUNNING, JobStatus.PENDING, attempt,
                {**values, "worker_id": None, "not_before": utc_now() + timedelta(seconds=delay)},
                f"Attempt {attempt} failed ({error_code.value}); retrying in {delay:.1f} s",
            )
        return await self._transition(
            session, job_id, JobStatus.RUNNING, JobStatus.FAILED, attempt, {**values, "finished_at": utc_now()}, error_message,
        )

    async def _succeed(self, session: AsyncSession, result: JobFinished) -> Transition | None:
        assets = msgspec.to_builtins(result.assets)
        transition = await self._transition(
            session, result.job_id, JobStatus.RUNNING, JobStatus.SUCCEEDED, result.attempt,
            {"step": Step.PUBLISH_ASSETS.value, "progress": 100, "assets": assets, "error_code": None,
             "error_message": None, "finished_at": utc_now(), "voice_used": voice_used_by(result)},
            "Render finished", assets=assets,
        )
        if transition is not None:
            await self._publish(session, transition.job)
        return transition

    async def _already_ended(self, session: AsyncSession, result: JobFinished, worker_id: str) -> Finish:
        """Why an outcome found its attempt ended: a resend, a conflict, or a canceled attempt
        whose worker reports how it stopped (that closes the attempt's record)."""
        row = await session.get(AttemptRow, (result.job_id, result.attempt))
        if row is None or row.worker_id != worker_id:
            return Finish(Verdict.STALE)
        if await self._close_canceled(session, result.job_id, result.attempt):
            video_id = await session.scalar(select(JobRow.video_id).where(JobRow.job_id == result.job_id))
            return Finish(Verdict.APPLIED, discard=(video_id, result.job_id) if result.outcome is Outcome.SUCCEEDED else None)
        # A canceled attempt takes its worker's word, whatever it says, once: the rest are resends.
        repeated = row.outcome in (result.outcome.value, Outcome.CANCELED.value)
        return Finish(Verdict.DUPLICATE if repeated else Verdict.STALE)

    @staticmethod
    async def _end_attempt(
        session: AsyncSession, job_id: str, attempt: int, outcome: Outcome, error_code: ErrorCode | None = None,
        error_message: str | None = None, *, worker_id: str | None = None, finished: bool = True,
    ) -> bool:
        """Records the attempt's outcome if it has none yet (and runs on `worker_id`, if given).
        The one place an outcome is decided: whoever's UPDATE matches wins, every other comes
        too late, whatever the order the messages arrived in."""
        conditions = [AttemptRow.job_id == job_id, AttemptRow.attempt == attempt, AttemptRow.outcome.is_(None)]
        if worker_id is not None:
            conditions.append(AttemptRow.worker_id == worker_id)
        result = await session.execute(
            update(AttemptRow).where(*conditions)
            .values(outcome=outcome.value, error_code=error_code.value if error_code else None,
                    error_message=error_message, finished_at=utc_now() if finished else None)
        )
        return result.rowcount == 1

    @staticmethod
    async def _lock_job(session: AsyncSession, job_id: str) -> None:
        """Takes the job's row lock before its attempt's (PostgreSQL; SQLite's write lock is
        already held). Every writer of both locks the job first, as a cancel must: in the other
        order a cancel and an outcome of the same attempt deadlock. Job row locks are FOR NO KEY
        UPDATE (`key_share`), the lock an UPDATE takes: they still let other transactions insert
        rows that refer to the job (events, attempts, webhook rows)."""
        await session.execute(select(JobRow.job_id).where(JobRow.job_id == job_id).with_for_update(key_share=True))

    @staticmethod
    async def _close_canceled(session: AsyncSession, job_id: str, attempt: int) -> bool:
        """A canceled attempt's record stays open until its worker has stopped (or is lost)."""
        result = await session.execute(
            update(AttemptRow)
            .where(AttemptRow.job_id == job_id, AttemptRow.attempt == attempt,
                   AttemptRow.outcome == Outcome.CANCELED.value, AttemptRow.finished_at.is_(None))
            .values(finished_at=utc_now())
        )
        return result.rowcount == 1

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
        self, session: AsyncSession, job_id: str, before: JobStatus, after: JobStatus, attempt: int | None,
        values: dict[str, Any], message: str, assets: dict[str, Any] | None = None,
    ) -> Transition | None:
        """Moves the job from `before` (at `attempt`, unless None) to `after`, if it is still
        there: the state machine's table says whether the move exists at all."""
        check_transition(before, after)
        now: datetime = utc_now()
        if after is not JobStatus.RUNNING:
            values = {**values, "deadline_at": None}  # only a running attempt has a deadline
        expected = [JobRow.status == before.value]
        if attempt is not None:
            expected.append(JobRow.attempt == attempt)
        job = await session.scalar(
            update(JobRow)
            .where(JobRow.job_id == job_id, *expected)
            .values(**values, status=after.value, message=message, updated_at=now, last_seq=JobRow.last_seq + 1)
            .returning(JobRow)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if job is None:
            return None
        event = event_of(job, now, assets)
        session.add(event)
        status_changed = before is not after
        if self._outbox is not None and status_changed and after.is_terminal:
            self._outbox.enqueue(session, job)
        return Transition(job=job, event=event, status_changed=status_changed)

    @staticmethod
    async def _progress_transitions(session: AsyncSession, reports: list[Progress]) -> list[Transition]:
        """`_transition` for progress reports, in each job's renderer order: the reports the job
        has not seen yet (same attempt, higher renderer seq). Three statements however many
        reports there are (read and lock the jobs, update them, insert the events), so a busy
        bus costs a few statements per burst, not a few per event."""
        check_transition(JobStatus.RUNNING, JobStatus.RUNNING)
        if not reports:
            return []
        jobs = {job.job_id: job for job in await session.scalars(
            select(JobRow)
            .where(JobRow.job_id.in_(sorted({report.job_id for report in reports})), JobRow.status == RUNNING)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )}
        now = utc_now()
        transitions = []
        for report in sorted(reports, key=lambda p: p.seq):
            job = jobs.get(report.job_id)
            if job is None or job.attempt != report.attempt or job.renderer_seq >= report.seq:
                continue
            job.step, job.message, job.renderer_seq, job.updated_at = report.step.value, report.message, report.seq, now
            job.progress = max(job.progress, report.progress)  # the bar never goes back
            job.last_seq += 1
            transitions.append(Transition(job=job, event=event_of(job, now), status_changed=False))
        if transitions:
            # One Core INSERT for the burst: the ORM's unit of work cost more per event than the write.
            await session.execute(_INSERT_EVENT, [columns_of(transition.event) for transition in transitions])
        return transitions

    @staticmethod
    async def _require(session: AsyncSession, video_id: str, job_id: str, *, lock: bool = False) -> JobRow:
        job = await session.get(JobRow, job_id, with_for_update={"key_share": True} if lock else None)
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


def voice_used_by(result: JobFinished) -> str | None:
    """The voice a successful attempt reports it spoke with; None from a renderer that does not say."""
    return (result.assets.voice_used if result.assets is not None else "") or None


def waiting_message(engine: str, offered: set[str]) -> str:
    return (f"Waiting for a renderer that offers the {engine} TTS engine "
            f"(connected renderers offer: {', '.join(sorted(offered)) or 'none'})")


_JOBS, _ATTEMPTS = JobRow.__table__, AttemptRow.__table__
# The hot reads, built once: SQLAlchemy then skips building and keying them on every request.
_ACTIVE_JOB_OF_VIDEO = select(_JOBS).where(_JOBS.c.video_id == bindparam("video_id"), _JOBS.c.status.in_((PENDING, RUNNING)))
_JOB_OF_VIDEO = select(_JOBS).where(_JOBS.c.job_id == bindparam("job_id"), _JOBS.c.video_id == bindparam("video_id"))
_ATTEMPTS_OF_JOBS = (select(_ATTEMPTS).where(_ATTEMPTS.c.job_id.in_(bindparam("job_ids", expanding=True)))
                     .order_by(_ATTEMPTS.c.job_id, _ATTEMPTS.c.attempt))
_VIDEO_JOBS = (_JOBS.c.video_id == bindparam("video_id"), _JOBS.c.status.in_(bindparam("statuses", expanding=True)))
_JOB_COUNT = select(func.count()).select_from(_JOBS).where(*_VIDEO_JOBS)
_JOB_PAGE = (select(_JOBS).where(*_VIDEO_JOBS).order_by(_JOBS.c.created_at.desc(), _JOBS.c.job_id.desc())
             .limit(bindparam("limit")).offset(bindparam("offset")))
_SCRIPT_TO_RENDER = (select(ScriptRow.status, ScriptRow.body, VideoLexiconRow.entries.label("video_lexicon"))
                     .outerjoin(VideoLexiconRow, VideoLexiconRow.video_id == ScriptRow.video_id)
                     .where(ScriptRow.video_id == bindparam("video_id"), ScriptRow.script_id == bindparam("script_id")))
"""The script and, in the same read, its video's lexicon (None without one)."""
_JOB_LEXICON = select(JobLexiconRow.entries).where(JobLexiconRow.job_id == bindparam("job_id"))
_INSERT_JOB_LEXICON = insert(JobLexiconRow.__table__)
_PUBLISHED_JOB = (select(_JOBS, PublishedRow.__table__.c.published_at)
                  .join(PublishedRow.__table__, PublishedRow.__table__.c.job_id == _JOBS.c.job_id)
                  .where(PublishedRow.__table__.c.video_id == bindparam("video_id")))


_INSERT_UNLESS_ACTIVE: dict[str, Insert] = {
    dialect: insert_into(dialect, _JOBS).on_conflict_do_nothing(index_elements=["video_id"], index_where=ACTIVE_JOB)
    .returning(_JOBS.c.job_id)
    for dialect in ("sqlite", "postgresql")
}
"""INSERT of a new job that does nothing (and returns no id) when its video already has an
active job: the index decides, inside the statement, so no failed INSERT ends the transaction
(it would on PostgreSQL) and two instances cannot both insert."""
_INSERT_EVENT = insert(JobEventRow.__table__)


