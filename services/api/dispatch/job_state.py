"""The job-state service: the dispatcher's one writer of the job table, apart from its broker.

The broker (dispatch/broker.py) routes messages and tracks workers and never waits for the
database; whatever it learns that must be stored (an outcome, a lost worker, a burst of progress,
that a worker is idle) it hands to this service through a bounded queue, and hears back, through
the `Broker` calls below, only after the change committed: a worker is acknowledged, released or
sent its next Render once the table says so. The service works the queue in order, so an outcome
the broker read before a tick is stored before that tick's deadlines are judged.

When the queue is full the newest command is dropped and counted, unless it is an outcome:
any other is found again by the next sweep (deadlines, orphans, cancels), so dropping only
delays, but a dropped outcome would let the loss that its worker's next heartbeat reports
decide the attempt. Outcomes are bounded another way: a resend of one still waiting adds
nothing, so at most one waits per attempt and connection. A database error keeps the command
at the head and tries it again after a pause, so the order holds through an outage.
"""

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import DBAPIError

from libs.contracts.bus import JobFinished, Progress, worker_of
from libs.contracts.codes import ErrorCode, JobStatus, Step
from libs.storage import AssetStore, StorageError, job_key
from services.api.jobs.lifecycle import RENDER_JOBS, Claimed, JobLifecycle, Verdict
from services.api.jobs.store import JobStore
from services.api.metrics.instruments import JOBS_WAITING_FOR_ENGINE, OUTCOMES, STEP_DURATION
from services.api.metrics.tts import record_tts_usage

log = logging.getLogger(__name__)

QUEUE_MAX = 1_000
"""Commands waiting at most: a backlog this long means the database is down or far behind."""
PROGRESS_BATCH_MAX = 256
"""Progress events stored in one transaction at most. A longer backlog (the database fell
behind the bus) is merged latest-wins first (DESIGN §3, `progress_to_store`)."""
RETRY_PAUSE_SEC = (0.1, 2.0)
"""The first and longest pause before a command that met a database error is tried again."""


class Broker(Protocol):
    """What the service tells the broker, each call after the commit it follows."""

    def idle_workers(self) -> list[tuple[str, frozenset[str]]]: ...
    def start_render(self, worker_id: str, claimed: Claimed) -> bool:
        """Sends the claimed job's Render; False when the worker is gone (the job goes back)."""

    def settled(self, identity: bytes, outcome: JobFinished) -> None:
        """The outcome is stored (or was already): acknowledge it and free the worker."""

    def stop_render(self, job_id: str, attempt: int) -> None:
        """Tells the worker running this attempt, if any, to stop."""

    def owned_attempts(self) -> dict[str, int]: ...
    def offered_engines(self) -> set[str] | None:
        """None without any connected worker."""

    def wake_at(self, when: datetime) -> None: ...
    def reject(self, reason: str, count: int = 1) -> None:
        """Counts bus messages that changed nothing, by why."""


@dataclass(frozen=True)
class _Outcome:
    identity: bytes
    """The connection it came on, which the Ack goes back to."""
    outcome: JobFinished


@dataclass(frozen=True)
class _Lost:
    job_id: str
    attempt: int
    error_code: ErrorCode
    reason: str


@dataclass(frozen=True)
class _GiveBack:
    job_id: str
    attempt: int


@dataclass(frozen=True)
class _Verify:
    """A worker runs an attempt the broker did not give it (a restarted API, a late Render)."""

    job_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True)
class _Sweep:
    as_of: datetime
    orphans_after: timedelta | None
    """RUNNING jobs no worker reports for this long are retried (None: not yet, workers are
    still coming back after a start)."""


class _Dispatch:
    """Idle workers may have work."""


class _StoreProgress:
    """Progress events wait in the backlog."""


class _DeliverCancels:
    """Cancels recorded in the job table may still have to reach their workers."""


_Command = _Outcome | _Lost | _GiveBack | _Verify | _Sweep | _Dispatch | _StoreProgress | _DeliverCancels


class JobStateService:
    def __init__(self, lifecycle: JobLifecycle, jobs: JobStore, store: AssetStore, broker: Broker) -> None:
        self._lifecycle = lifecycle
        self._jobs = jobs
        self._store = store
        self._broker = broker
        self._queue: deque[_Command] = deque()
        self._work = asyncio.Event()
        self._queued: set[type] = set()
        """Coalesced commands waiting (one of each at most: a later one adds nothing)."""
        self._outcomes: dict[tuple[str, int], set[bytes]] = {}
        """(job_id, attempt) of each outcome waiting or being stored: the connections it came on."""
        self._progress: list[Progress] = []
        self._cancels_sent: set[tuple[str, int]] = set()
        self.waiting_for_engine: dict[str, int] = {}
        """PENDING jobs whose engine no connected worker offers, by engine (/readyz, /metrics)."""

    # --- the broker's side: never waits --------------------------------------------------

    def outcome(self, identity: bytes, outcome: JobFinished) -> None:
        connections = self._outcomes.setdefault((outcome.job_id, outcome.attempt), set())
        if identity in connections:
            return  # a resend of one still waiting, whose Ack goes to this connection
        connections.add(identity)
        self._put(_Outcome(identity, outcome), droppable=False)

    def lost(self, job_id: str, attempt: int, reason: str, error_code: ErrorCode = ErrorCode.WORKER_LOST) -> None:
        # An attempt whose outcome waits here ends with it, or had ended already: either way
        # failing it afterwards changes nothing. A worker's heartbeat says "idle" as soon as it
        # sent the outcome, long before a busy queue stores it, so this is one transaction
        # saved per attempt where the queue is longest.
        if (job_id, attempt) not in self._outcomes:
            self._put(_Lost(job_id, attempt, error_code, reason))

    def give_back(self, job_id: str, attempt: int) -> None:
        self._put(_GiveBack(job_id, attempt))

    def verify(self, job_id: str, attempt: int, worker_id: str) -> None:
        self._put(_Verify(job_id, attempt, worker_id))

    def dispatch(self) -> None:
        self._put_once(_Dispatch())

    def sweep(self, as_of: datetime, orphans_after: timedelta | None) -> None:
        self._put_once(_Sweep(as_of, orphans_after))

    def deliver_cancels(self) -> None:
        self._put_once(_DeliverCancels())

    def progress(self, events: list[Progress]) -> None:
        self._progress.extend(events)
        self._put_once(_StoreProgress())

    def _put_once(self, command: _Command) -> None:
        if type(command) not in self._queued:
            self._queued.add(type(command))
            self._put(command, droppable=False)

    def _put(self, command: _Command, *, droppable: bool = True) -> None:
        if len(self._queue) >= QUEUE_MAX and droppable:
            self._broker.reject("job_state_queue_full")
            log.warning("job-state queue full; dropped %s (it is repeated or swept up later)", type(command).__name__)
            return
        self._queue.append(command)
        self._work.set()

    # --- the service's side: one command at a time, in order ------------------------------

    async def run(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            while self._queue:
                command = self._queue[0]
                # Taken: a request made while it runs asks for a run of its own.
                self._queued.discard(type(command))
                await self._until_stored(command)
                self._queue.popleft()
                if isinstance(command, _Outcome):
                    self._outcome_done(command.identity, command.outcome)

    def _outcome_done(self, identity: bytes, outcome: JobFinished) -> None:
        key = (outcome.job_id, outcome.attempt)
        self._outcomes[key].discard(identity)
        if not self._outcomes[key]:
            del self._outcomes[key]

    async def _until_stored(self, command: _Command) -> None:
        pause = RETRY_PAUSE_SEC[0]
        while True:
            try:
                await self._apply(command)
                return
            except (DBAPIError, OSError, TimeoutError) as error:
                log.warning("job table unavailable (%s); trying %s again in %.1f s", error, type(command).__name__, pause)
            except Exception:
                log.exception("could not store %s; dropped", type(command).__name__)
                return
            await asyncio.sleep(pause)
            pause = min(2 * pause, RETRY_PAUSE_SEC[1])

    async def _apply(self, command: _Command) -> None:
        match command:
            case _Outcome(identity=identity, outcome=outcome):
                await self._settle(identity, outcome)
            case _StoreProgress():
                await self._store_progress()
            case _Dispatch():
                await self._dispatch()
            case _Lost(job_id=job_id, attempt=attempt, error_code=error_code, reason=reason):
                if await self._lifecycle.fail_attempt(job_id, attempt, error_code, reason) is not None:
                    self._broker_wakes()
            case _GiveBack(job_id=job_id, attempt=attempt):
                await self._lifecycle.give_back(job_id, attempt)
                self._broker_wakes()
            case _Verify(job_id=job_id, attempt=attempt, worker_id=worker_id):
                job = await self._jobs.find(job_id)
                if job is None or job.status is not JobStatus.RUNNING or job.attempt != attempt or job.worker_id != worker_id:
                    self._broker.stop_render(job_id, attempt)
            case _Sweep(as_of=as_of, orphans_after=orphans_after):
                await self._sweep(as_of, orphans_after)
            case _DeliverCancels():
                await self._deliver_cancels()

    def _broker_wakes(self) -> None:
        """A job went back to the queue or a worker may be free: dispatch again."""
        self._put_once(_Dispatch())

    async def _settle(self, identity: bytes, outcome: JobFinished) -> None:
        worker_id = worker_of(identity)
        finish = await self._lifecycle.finish(outcome, worker_id)
        OUTCOMES.labels(finish.verdict.value).inc()
        if finish.verdict is Verdict.APPLIED:
            for step, seconds in outcome.step_seconds.items():
                STEP_DURATION.labels(Step(step).value).observe(seconds)
            record_tts_usage(outcome.tts_usage)  # once per attempt: a resend is DUPLICATE
        elif finish.verdict is Verdict.STALE:
            log.warning(
                "ignored %s of %s attempt %d from %s: that attempt is not its to end",
                outcome.outcome.value,
                outcome.job_id,
                outcome.attempt,
                worker_id,
            )
            self._broker.reject("stale_outcome")
        if finish.discard is not None:
            await self._discard(*finish.discard)
        # Acknowledged whatever the verdict, so the worker stops resending what is decided.
        self._broker.settled(identity, outcome)

    async def _discard(self, video_id: str, job_id: str) -> None:
        """Files a success published after its attempt was canceled: never served."""
        try:
            await self._store.delete([job_key(video_id, job_id)])
        except StorageError as error:
            # Only rows lead to files: the TTL sweep deletes them with the job.
            log.warning("could not remove the files of %s/%s now: %s", video_id, job_id, error)

    async def _store_progress(self) -> None:
        backlog, self._progress = self._progress, []
        kept = progress_to_store(backlog)
        if len(kept) < len(backlog):
            self._broker.reject("merged_progress", len(backlog) - len(kept))
        for start in range(0, len(kept), PROGRESS_BATCH_MAX):
            stale = await self._lifecycle.record_progress(kept[start : start + PROGRESS_BATCH_MAX])
            if stale:
                # Normal after an outcome: its final progress was stored with it; PUB/SUB comes later.
                self._broker.reject("stale_progress", stale)

    async def _dispatch(self) -> None:
        """Claims a job for each idle worker, longest idle first, until one finds none for what
        it offers (a worker offering as much or less then finds none either)."""
        found_nothing: list[frozenset[str]] = []
        while True:
            worker = next(
                (
                    (worker_id, engines)
                    for worker_id, engines in self._broker.idle_workers()
                    if not any(engines <= empty for empty in found_nothing)
                ),
                None,
            )
            if worker is None:
                return
            worker_id, engines = worker
            claimed = await self._lifecycle.claim(worker_id, engines)
            if claimed is None:
                found_nothing.append(engines)
            elif not self._broker.start_render(worker_id, claimed):
                await self._lifecycle.give_back(claimed.job.job_id, claimed.job.attempt)

    async def _sweep(self, as_of: datetime, orphans_after: timedelta | None) -> None:
        """What only time brings: deadlines, orphans, jobs waiting for an engine, retries due,
        and cancels recorded by an instance without the bus."""
        owned = self._broker.owned_attempts()
        for job in await self._jobs.running():
            if RENDER_JOBS.has_expired(job, as_of):
                if (
                    await self._lifecycle.fail_attempt(
                        job.job_id, job.attempt, ErrorCode.TIMEOUT, "the render took longer than its deadline"
                    )
                    is not None
                ):
                    # Its worker stays busy until it reports how it stopped.
                    self._broker.stop_render(job.job_id, job.attempt)
                    self._broker_wakes()
            elif orphans_after is not None and owned.get(job.job_id) != job.attempt and job.updated_at < as_of - orphans_after:
                await self._lifecycle.fail_attempt(job.job_id, job.attempt, ErrorCode.WORKER_LOST, "No renderer reports this job")
                self._broker_wakes()
        offered = self._broker.offered_engines()
        if offered is not None:
            self.waiting_for_engine = await self._lifecycle.note_waiting(offered)
            JOBS_WAITING_FOR_ENGINE.clear()
            for engine, count in self.waiting_for_engine.items():
                JOBS_WAITING_FOR_ENGINE.labels(engine).set(count)
        await self._deliver_cancels()
        retry_at = await self._jobs.next_retry_at()
        if retry_at is not None:
            self._broker.wake_at(retry_at)

    async def _deliver_cancels(self) -> None:
        """Cancels of RUNNING renders that an API instance without the bus recorded: each
        worker is told once (a worker that comes back with the attempt is told again then)."""
        unconfirmed = await self._jobs.unconfirmed_cancels()
        self._cancels_sent &= unconfirmed
        for job_id, attempt in unconfirmed - self._cancels_sent:
            self._cancels_sent.add((job_id, attempt))
            self._broker.stop_render(job_id, attempt)


def progress_to_store(backlog: list[Progress]) -> list[Progress]:
    """All of a backlog that fits one batch. Of a longer one (the service fell behind the bus),
    the newest event of each job, attempt and step: the bar ends where it would have, no step
    change is lost, and catching up costs a bounded amount of work."""
    if len(backlog) <= PROGRESS_BATCH_MAX:
        return backlog
    newest: dict[tuple[str, int, Step], Progress] = {}
    for progress in backlog:
        key = (progress.job_id, progress.attempt, progress.step)
        if key not in newest or newest[key].seq < progress.seq:
            newest[key] = progress
    return list(newest.values())
