"""The render job lifecycle (DESIGN §4): every write to a job or its attempts is one of the named
transitions below. Each is one statement guarded by the state it leaves (or one transaction of
such statements), so a late, repeated or racing message finds nothing to change; each stores
the numbered event that announces it in the same transaction; and `_changes` announces those
events after the commit, here and nowhere else.

    job:      PENDING ──claim──▶ RUNNING ──finish(succeeded)──▶ SUCCEEDED
                 ▲  │              │  │──finish(failed) / fail_attempt, none left──▶ FAILED
                 │  │              │  └──cancel / finish(canceled)──▶ CANCELED
                 │  └──cancel──────┼────────────────────────────────▶ CANCELED
                 └─── retry: finish(failed) / fail_attempt with attempts left; give_back

    attempt:  open ──(the first of outcome, cancel, loss, deadline)──▶ ended
              a canceled attempt stays unconfirmed (no finished_at) until its worker says how
              it stopped, or is lost: only then is the worker free of it.
"""

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from functools import partial
from typing import Any, NamedTuple, cast
from uuid import uuid4

import msgspec
from sqlalchemy import Connection, CursorResult, Row, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.contracts.bus import JobFinished, Outcome, Progress
from libs.contracts.codes import ErrorCode, JobStatus, Step
from libs.contracts.script import LexiconEntry, Script
from libs.contracts.theme import ThemeAssets
from libs.contracts.voices import required_engine
from libs.redaction import redact
from services.api.db.engine import Database
from services.api.db.inserts import columns_of
from services.api.db.leases import LeasedQueue
from services.api.db.models import AttemptRow, JobEventRow, JobRow, PublishedRow, ScriptRow, utc_now
from services.api.dispatch.wake import wake_dispatcher
from services.api.errors import JobNotCancelable, JobNotFound, ScriptNotApproved, ScriptNotFound
from services.api.jobs import statements as sql
from services.api.jobs.retry import backoff_delay
from services.api.lexicon.store import decode_entries, job_snapshot
from services.api.scripts.schemas import ScriptStatus
from services.api.scripts.store import decode_script
from services.api.themes.snapshot import decode_job_theme, encode_job_theme, theme_assets
from services.api.webhooks.outbox import WebhookOutbox

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED = JobStatus
RENDER_JOBS = LeasedQueue(
    JobRow,
    (JobRow.job_id,),
    owner=JobRow.worker_id,
    lease_until=JobRow.deadline_at,
    due=lambda now: and_(JobRow.status == PENDING, or_(JobRow.not_before.is_(None), JobRow.not_before <= now)),
    order=(JobRow.created_at,),
)
"""Render jobs as leased work (db/leases.py): a worker holds its attempt until the deadline, and
an attempt whose deadline passed is recovered like any expired lease (job_state.py's sweep)."""


@dataclass(frozen=True)
class Transition:
    """A committed change: the job as it is now and the event that announces it."""

    job: JobRow
    event: JobEventRow
    status_changed: bool
    """The job was created or its status changed (not just its progress or message)."""


Announce = Callable[[Transition], None]
AttemptTimeout = Callable[[Script], float]
"""Seconds one attempt of this script may run."""


class Verdict(Enum):
    """What became of an attempt's outcome, decided in the transaction that writes it."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    """The attempt already ended with this very outcome (a resend)."""
    STALE = "stale"
    """Not this worker's attempt, no such attempt, or it already ended otherwise."""


@dataclass(frozen=True)
class Finish:
    verdict: Verdict
    job: JobRow | None = None
    """The job after the outcome changed it."""
    discard: tuple[str, str] | None = None
    """(video, job) whose files a success published after its attempt was canceled: unwanted."""


class Claimed(NamedTuple):
    job: JobRow
    script: Script
    lexicon: list[LexiconEntry]
    """The lexicon the job was created with (the video's and the script's merged)."""
    theme: ThemeAssets | None
    """The script's theme as it was when the job was created, its media resolved; None: none."""


class _JobFields(msgspec.Struct):
    """The fields of a stored script a new job needs; the rest is skipped undecoded."""

    voice: str | None = None
    lexicon: list[LexiconEntry] | None = None
    theme: str | None = None


@dataclass
class _Changes:
    """One write transaction and the transitions it made, announced once it commits."""

    session: AsyncSession
    transitions: list[Transition] = field(default_factory=list)


class JobLifecycle:
    def __init__(
        self,
        db: Database,
        announce: Announce,
        *,
        max_attempts: int,
        attempt_timeout: AttemptTimeout,
        outbox: WebhookOutbox | None = None,
        voice_aliases: dict[str, str] | None = None,
    ) -> None:
        self._db = db
        self._announce = announce
        self._max_attempts = max_attempts
        self._attempt_timeout = attempt_timeout
        self._outbox = outbox
        self._voice_aliases = voice_aliases or {}

    # --- requests (HTTP) ---------------------------------------------------------------

    async def create(self, video_id: str, script_id: str, created_by: str) -> tuple[JobRow | Row[Any], bool]:
        """Inserts a PENDING job with its first event, or returns the video's active one:
        (job, created). The API's hottest write: Core statements built once, in one trip to
        the database's writer (`Database.write`), plus one statement when the job has a
        lexicon (the video's as it is now merged with the script's, kept with the job so a
        later edit of the video's does not change it) and two when its script names a theme
        (read with its media's keys, and kept with the job likewise)."""
        created = await self._db.write(partial(self._insert_job, video_id, script_id, created_by, utc_now()))
        if isinstance(created, Transition):
            self._announce(created)
            return created.job, True
        return created, False

    def _insert_job(
        self, video_id: str, script_id: str, created_by: str, now: datetime, connection: Connection
    ) -> Transition | Row[Any]:
        """The create's transaction: the new job's transition, or the video's active job."""
        script = connection.execute(sql.SCRIPT_TO_RENDER, {"video_id": video_id, "script_id": script_id}).first()
        if script is None:
            raise ScriptNotFound.of(video_id, script_id)
        if script.status != ScriptStatus.APPROVED.value:
            raise ScriptNotApproved("Only an APPROVED script can be rendered.", video_id=video_id, script_id=script_id)
        fields = msgspec.json.decode(script.body, type=_JobFields)
        # Before the insert: a theme gone since the script was saved refuses the render, as a
        # script that cannot be rendered does, whether or not the video has an active job.
        theme = None
        if fields.theme is not None:
            row = connection.execute(sql.THEME_TO_RENDER, {"theme_id": fields.theme}).first()
            theme = encode_job_theme(theme_assets(fields.theme, row))
        job = JobRow(
            job_id=f"job-{uuid4()}",
            video_id=video_id,
            script_id=script_id,
            status=PENDING,
            step=None,
            progress=0,
            message="Queued",
            attempt=0,
            max_attempts=self._max_attempts,
            last_seq=1,
            renderer_seq=0,
            created_by=created_by,
            created_at=now,
            updated_at=now,
            engine=required_engine(fields.voice, self._voice_aliases),
        )
        while not connection.scalar(sql.INSERT_UNLESS_ACTIVE[self._db.dialect], columns_of(job)):
            # The partial unique index holds this video's active job. On PostgreSQL a
            # concurrent insert is waited for and then seen; if that job ended in between,
            # the insert is tried again.
            active = connection.execute(sql.ACTIVE_JOB_OF_VIDEO, {"video_id": video_id}).first()
            if active is not None:
                return active
        lexicon = job_snapshot(script.video_lexicon, fields.lexicon)
        if lexicon is not None:
            connection.execute(sql.INSERT_JOB_LEXICON, {"job_id": job.job_id, "entries": lexicon})
        if theme is not None:
            connection.execute(sql.INSERT_JOB_THEME, {"job_id": job.job_id, "assets": theme})
        event = event_of(job, now)
        connection.execute(sql.INSERT_EVENT, columns_of(event))
        wake_dispatcher(connection, self._db.dialect)
        return Transition(job=job, event=event, status_changed=True)

    async def cancel(self, video_id: str, job_id: str) -> tuple[JobRow, str | None]:
        """PENDING or RUNNING → CANCELED: (the job, the worker to tell to stop, if it ran)."""
        async with self._changes() as changes:
            session = changes.session
            # Locked: on PostgreSQL the dispatcher could otherwise claim the job between this
            # read and the UPDATE below.
            job = await session.get(JobRow, job_id, with_for_update={"key_share": True})
            if job is None or job.video_id != video_id:
                raise JobNotFound.of(video_id, job_id)
            if job.status == CANCELED:
                return job, None
            if job.status not in (PENDING, RUNNING):
                raise JobNotCancelable(f"Job {job_id} already ended {job.status}.", job_id=job_id, status=job.status)
            worker = job.worker_id if job.status == RUNNING else None
            if worker is not None and not await _end_attempt(session, job_id, job.attempt, Outcome.CANCELED, confirmed=False):
                # The attempt's outcome was recorded first, in another transaction: it stands.
                raise JobNotCancelable(f"Job {job_id} is already ending.", job_id=job_id, status=job.status)
            canceled = await self._move(
                changes, job_id, job.status, CANCELED, job.attempt, {"finished_at": utc_now()}, "Canceled"
            )
            if worker is not None:
                await session.run_sync(wake_dispatcher, self._db.dialect)  # only the dispatcher can tell its worker
            assert canceled is not None  # the row is locked in a state that may be canceled
            return canceled, worker

    # --- the dispatcher's ------------------------------------------------------------------

    async def claim(self, worker_id: str, engines: Iterable[str]) -> Claimed | None:
        """PENDING → RUNNING: the oldest due job a worker offering `engines` can run starts its
        next attempt on `worker_id`, with the deadline its script earns."""
        async with self._changes() as changes:
            session, now = changes.session, utc_now()
            offered = or_(JobRow.engine.is_(None), JobRow.engine.in_(list(engines)))
            # Locked, read, then moved: the lease (its deadline) depends on the script.
            job = next(iter(await RENDER_JOBS.lock_claimable(session, where=(offered,), now=now)), None)
            if job is None:
                return None
            row = await session.get(ScriptRow, (job.video_id, job.script_id))
            assert row is not None  # a job's script is never deleted before the job (foreign key)
            script = decode_script(row)
            snapshot = (await session.execute(sql.JOB_SNAPSHOT, {"job_id": job.job_id})).one()
            attempt = job.attempt + 1
            claimed = await self._move(
                changes,
                job.job_id,
                PENDING,
                RUNNING,
                job.attempt,
                {
                    "attempt": attempt,
                    "worker_id": worker_id,
                    "renderer_seq": 0,
                    "started_at": job.started_at or now,
                    "not_before": None,
                    "deadline_at": now + timedelta(seconds=self._attempt_timeout(script)),
                },
                f"Attempt {attempt}/{job.max_attempts} started",
            )
            session.add(AttemptRow(job_id=job.job_id, attempt=attempt, worker_id=worker_id, started_at=now))
            assert claimed is not None  # locked PENDING above
            return Claimed(claimed, script, decode_entries(snapshot.entries), decode_job_theme(snapshot.assets))

    async def give_back(self, job_id: str, attempt: int) -> bool:
        """RUNNING → PENDING at once: the Render never reached a worker that runs it (unreachable,
        or refused). The attempt never started, so it is unwritten rather than failed: the
        attempt count and the attempts list say how often a job really ran."""
        async with self._changes() as changes:
            given_back = await self._move(
                changes, job_id, RUNNING, PENDING, attempt, {"attempt": attempt - 1, "worker_id": None}, "Queued"
            )
            if given_back is not None:
                await changes.session.execute(
                    delete(AttemptRow).where(AttemptRow.job_id == job_id, AttemptRow.attempt == attempt)
                )
            return given_back is not None

    async def record_progress(self, reports: list[Progress]) -> int:
        """RUNNING → RUNNING: every report newer than its job has (same attempt, higher renderer
        seq) becomes the job's next event, in one transaction for the burst. Returns how many
        were stale (unknown or ended job, another attempt, an older seq)."""
        async with self._changes() as changes:
            applied = await self._progress(changes, reports)
        return len(reports) - applied

    async def finish(self, result: JobFinished, worker_id: str) -> Finish:
        """The attempt's outcome reported by `worker_id`, with its final progress, guarded by
        "this attempt of this worker has no outcome yet": RUNNING → SUCCEEDED, FAILED, CANCELED,
        or PENDING to retry. An outcome of a canceled attempt confirms that its worker stopped."""
        # The renderer's words are shown to every reader and sent to webhooks: a credential
        # echoed in a provider's error stops here.
        error_message = redact(result.error_message) if result.error_message else None
        async with self._changes() as changes:
            session = changes.session
            await _lock_job(session, result.job_id)
            if not await _end_attempt(
                session, result.job_id, result.attempt, result.outcome, result.error_code, error_message, worker_id=worker_id
            ):
                return await self._already_ended(session, result, worker_id)
            await self._progress(changes, result.final_progress)
            if result.outcome is Outcome.SUCCEEDED:
                job = await self._succeed(changes, result)
            elif result.outcome is Outcome.CANCELED:  # it stopped on its own: a cancel would have ended it first
                job = await self._move(
                    changes,
                    result.job_id,
                    RUNNING,
                    CANCELED,
                    result.attempt,
                    {"finished_at": utc_now()},
                    "Canceled by the renderer",
                )
            else:
                job = await self._fail(
                    changes,
                    result.job_id,
                    result.attempt,
                    result.error_code or ErrorCode.RENDER_FAILED,
                    error_message or "Render failed",
                    retryable=result.retryable,
                )
            return Finish(Verdict.APPLIED, job)

    async def fail_attempt(self, job_id: str, attempt: int, error_code: ErrorCode, reason: str) -> JobRow | None:
        """An attempt no worker will report on (its worker was lost, its deadline passed) fails
        and is retried while attempts remain. None if it had already ended; a canceled one is
        confirmed, since its worker is gone or told to stop."""
        async with self._changes() as changes:
            await _lock_job(changes.session, job_id)
            if not await _end_attempt(changes.session, job_id, attempt, Outcome.FAILED, error_code, reason):
                await _confirm_cancel(changes.session, job_id, attempt)
                return None
            return await self._fail(changes, job_id, attempt, error_code, reason, retryable=True)

    async def note_waiting(self, offered: set[str]) -> dict[str, int]:
        """PENDING → PENDING: jobs whose engine no connected worker offers say so in their
        message (once, as an event). Returns how many jobs wait, by engine."""
        async with self._db.read_session() as session:
            rows = (
                await session.execute(
                    select(JobRow.job_id, JobRow.engine, JobRow.message).where(
                        JobRow.status == PENDING, JobRow.engine.is_not(None), JobRow.engine.not_in(list(offered))
                    )
                )
            ).all()
        waiting: dict[str, int] = defaultdict(int)
        to_note = []
        for job_id, engine, message in rows:
            assert engine is not None  # selected so
            waiting[engine] += 1
            if message != (reason := waiting_message(engine, offered)):
                to_note.append((job_id, reason))
        if to_note:  # a write transaction only when some message changes
            async with self._changes() as changes:
                for job_id, reason in to_note:
                    await self._move(changes, job_id, PENDING, PENDING, None, {}, reason)
        return dict(waiting)

    # --- the steps of the transitions above ---------------------------------------------

    @asynccontextmanager
    async def _changes(self) -> AsyncIterator[_Changes]:
        async with self._db.write_session() as session:
            async with session.begin():
                changes = _Changes(session)
                yield changes
            # Committed: only now may anyone hear of it.
            for transition in changes.transitions:
                self._announce(transition)

    async def _move(
        self,
        changes: _Changes,
        job_id: str,
        before: JobStatus,
        after: JobStatus,
        attempt: int | None,
        values: dict[str, Any],
        message: str,
        assets: dict[str, Any] | None = None,
    ) -> JobRow | None:
        """The one guarded UPDATE: the job moves from `before` (at `attempt`, unless None) to
        `after` only if it is still there, and its event is stored with it."""
        now = utc_now()
        if after is not RUNNING:
            values = {**values, "deadline_at": None}  # only a running attempt has a deadline
        expected = [JobRow.status == before]
        if attempt is not None:
            expected.append(JobRow.attempt == attempt)
        job = await changes.session.scalar(
            update(JobRow)
            .where(JobRow.job_id == job_id, *expected)
            .values(**values, status=after, message=message, updated_at=now, last_seq=JobRow.last_seq + 1)
            .returning(JobRow)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        if job is None:
            return None
        event = event_of(job, now, assets)
        changes.session.add(event)
        status_changed = before is not after
        if self._outbox is not None and status_changed and after.is_terminal:
            self._outbox.enqueue(changes.session, job)
        changes.transitions.append(Transition(job=job, event=event, status_changed=status_changed))
        return job

    async def _progress(self, changes: _Changes, reports: list[Progress]) -> int:
        """Three statements however many reports (lock the jobs, update them, insert the
        events): a busy bus costs a few statements per burst, not per event. The guard is
        the same as `_move`'s, checked on the locked rows."""
        if not reports:
            return 0
        jobs = {
            job.job_id: job
            for job in await changes.session.scalars(
                select(JobRow)
                .where(JobRow.job_id.in_(sorted({report.job_id for report in reports})), JobRow.status == RUNNING)
                .with_for_update(key_share=True)
                .execution_options(populate_existing=True)
            )
        }
        now, applied = utc_now(), []
        for report in sorted(reports, key=lambda p: p.seq):
            job = jobs.get(report.job_id)
            if job is None or job.attempt != report.attempt or job.renderer_seq >= report.seq:
                continue
            job.step, job.message, job.renderer_seq, job.updated_at = report.step.value, report.message, report.seq, now
            job.progress = max(job.progress, report.progress)  # the bar never goes back
            job.last_seq += 1
            applied.append(Transition(job=job, event=event_of(job, now), status_changed=False))
        if applied:
            # One Core INSERT for the burst: the ORM's unit of work cost more per event than the write.
            await changes.session.execute(sql.INSERT_EVENT, [columns_of(transition.event) for transition in applied])
            changes.transitions.extend(applied)
        return len(applied)

    async def _fail(
        self,
        changes: _Changes,
        job_id: str,
        attempt: int,
        error_code: ErrorCode,
        reason: str,
        *,
        retryable: bool,
    ) -> JobRow | None:
        job = await changes.session.get(JobRow, job_id)
        values = {"error_code": error_code.value, "error_message": reason}
        if job is not None and retryable and attempt < job.max_attempts:
            delay = backoff_delay(attempt)
            return await self._move(
                changes,
                job_id,
                RUNNING,
                PENDING,
                attempt,
                {**values, "worker_id": None, "not_before": utc_now() + timedelta(seconds=delay)},
                f"Attempt {attempt} failed ({error_code.value}); retrying in {delay:.1f} s",
            )
        return await self._move(changes, job_id, RUNNING, FAILED, attempt, {**values, "finished_at": utc_now()}, reason)

    async def _succeed(self, changes: _Changes, result: JobFinished) -> JobRow | None:
        assets = msgspec.to_builtins(result.assets)
        job = await self._move(
            changes,
            result.job_id,
            RUNNING,
            SUCCEEDED,
            result.attempt,
            {
                "step": Step.PUBLISH_ASSETS.value,
                "progress": 100,
                "assets": assets,
                "error_code": None,
                "error_message": None,
                "finished_at": utc_now(),
                "voice_used": voice_used_by(result),
            },
            "Render finished",
            assets=assets,
        )
        if job is not None:
            await _publish(changes.session, job)
        return job

    @staticmethod
    async def _already_ended(session: AsyncSession, result: JobFinished, worker_id: str) -> Finish:
        """Why an outcome found its attempt ended: a resend, a conflict, or how the worker of a
        canceled attempt stopped (which confirms the cancel, once)."""
        row = await session.get(AttemptRow, (result.job_id, result.attempt))
        if row is None or row.worker_id != worker_id:
            return Finish(Verdict.STALE)
        if await _confirm_cancel(session, result.job_id, result.attempt):
            video_id = await session.scalar(select(JobRow.video_id).where(JobRow.job_id == result.job_id))
            if result.outcome is Outcome.SUCCEEDED and video_id is not None:
                return Finish(Verdict.APPLIED, discard=(video_id, result.job_id))
            return Finish(Verdict.APPLIED)
        repeated = row.outcome in (result.outcome.value, Outcome.CANCELED.value)
        return Finish(Verdict.DUPLICATE if repeated else Verdict.STALE)


async def _end_attempt(
    session: AsyncSession,
    job_id: str,
    attempt: int,
    outcome: Outcome,
    error_code: ErrorCode | None = None,
    error_message: str | None = None,
    *,
    worker_id: str | None = None,
    confirmed: bool = True,
) -> bool:
    """Open → ended, if the attempt has no outcome yet (and runs on `worker_id`, if given):
    where an attempt's outcome is decided. Whoever's UPDATE matches wins; every other comes too
    late, whatever order the messages arrived in."""
    conditions = [AttemptRow.job_id == job_id, AttemptRow.attempt == attempt, AttemptRow.outcome.is_(None)]
    if worker_id is not None:
        conditions.append(AttemptRow.worker_id == worker_id)
    result = await session.execute(
        update(AttemptRow)
        .where(*conditions)
        .values(
            outcome=outcome.value,
            error_code=error_code.value if error_code else None,
            error_message=error_message,
            finished_at=utc_now() if confirmed else None,
        )
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def _confirm_cancel(session: AsyncSession, job_id: str, attempt: int) -> bool:
    """Canceled, unconfirmed → confirmed: the attempt's worker stopped, or is gone."""
    result = await session.execute(
        update(AttemptRow)
        .where(
            AttemptRow.job_id == job_id,
            AttemptRow.attempt == attempt,
            AttemptRow.outcome == Outcome.CANCELED.value,
            AttemptRow.finished_at.is_(None),
        )
        .values(finished_at=utc_now())
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def _lock_job(session: AsyncSession, job_id: str) -> None:
    """Takes the job's row lock before its attempt's (PostgreSQL; SQLite's write lock is held
    already). Every writer of both locks the job first, as a cancel must: in the other order a
    cancel and an outcome of one attempt deadlock. FOR NO KEY UPDATE (`key_share`), the lock an
    UPDATE takes, still lets others insert rows that refer to the job (events, attempts)."""
    await session.execute(select(JobRow.job_id).where(JobRow.job_id == job_id).with_for_update(key_share=True))


async def _publish(session: AsyncSession, job: JobRow) -> None:
    """The published set changes only when a job newer than the published one succeeds."""
    current = await session.scalar(
        select(JobRow).join(PublishedRow, PublishedRow.job_id == JobRow.job_id).where(PublishedRow.video_id == job.video_id)
    )
    if current is not None and current.created_at > job.created_at:
        return
    await session.merge(PublishedRow(video_id=job.video_id, job_id=job.job_id, published_at=job.finished_at))


def event_of(job: JobRow, now: Any, assets: dict[str, Any] | None = None) -> JobEventRow:
    """The event announcing the job as it is now: its last_seq, status and message."""
    return JobEventRow(
        job_id=job.job_id,
        seq=job.last_seq,
        video_id=job.video_id,
        status=job.status,
        step=job.step,
        progress=job.progress,
        message=job.message,
        error_code=job.error_code if job.status != RUNNING else None,
        assets=assets,
        created_at=now,
    )


def voice_used_by(result: JobFinished) -> str | None:
    """The voice a successful attempt reports it spoke with; None from a renderer that does not say."""
    return (result.assets.voice_used if result.assets is not None else "") or None


def waiting_message(engine: str, offered: set[str]) -> str:
    return (
        f"Waiting for a renderer that offers the {engine} TTS engine "
        f"(connected renderers offer: {', '.join(sorted(offered)) or 'none'})"
    )
