"""The API as load-balancing broker: ROUTER for commands and outcomes, SUB for progress.

Workers announce themselves with `Ready`, prove liveness with `Heartbeat` every second from
their own timer, and report each attempt's outcome with `JobFinished` until it is `Ack`ed.
The broker hands PENDING jobs, oldest first, to the longest-idle worker that offers the
engine the job's voice needs.

All of the broker's state (the worker registry, what it has sent) is owned by one actor task:
the socket readers and the clock only put inputs into its inbox, and the actor handles them
one at a time, each to the end, so no two decisions about one attempt ever interleave. The
database has the last word on each attempt's outcome (`JobStore.finish`: APPLIED, DUPLICATE
or STALE), which also holds with an HTTP cancel arriving from outside the actor. Voice
previews pass beside the actor (`preview`): they change no state, and an editor is waiting.
"""

import asyncio
import logging
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import NamedTuple

import msgspec
import zmq
import zmq.asyncio

from libs.contracts.bus import (
    PROTOCOL_VERSION, Ack, Cancel, Disconnect, Envelope, Heartbeat, Incompatible, JobFinished, Message, OutputSpec,
    PreviewAudio, PreviewRequest, Progress, ProtocolMismatch, Ready, Render, RenderRefused, RunningJob, VoiceInfo,
    api_command_codec, progress_codec,
)
from libs.contracts.codes import ErrorCode, JobStatus, Step
from libs.storage import AssetStore, StorageError, job_key
from libs.tasks import cancel_and_wait
from services.api.db.models import utc_now
from services.api.dispatch.registry import Worker, WorkerRegistry
from services.api.errors import VoiceUnavailable
from services.api.jobs.store import Finish, JobStore, Verdict
from services.api.metrics.instruments import BUS_DROPPED, BUS_MESSAGES, JOBS_WAITING_FOR_ENGINE, OUTCOMES, STEP_DURATION
from services.api.metrics.tts import record_tts_usage
from services.api.progress.publisher import EventPublisher
from services.api.settings import Settings

log = logging.getLogger(__name__)

PROGRESS_BATCH_MAX = 256
"""Progress events stored in one transaction at most. A longer backlog means the API fell
behind the bus: it is merged latest-wins (DESIGN §3) before it is stored (`progress_to_store`)."""
DRAIN_BEFORE_TICK_MAX = 10_000
"""Event-loop turns a tick waits for the command reader at most: a flood must not stop the clock."""
ORPHAN_GRACE_LIVENESSES = 2
"""Renderers reconnect within ~1 liveness period after an API restart; wait two before
deciding that a RUNNING job nobody reports is orphaned."""
ZMTP_HEARTBEAT_IVL_MS = 1_000
ZMTP_HEARTBEAT_TIMEOUT_MS = 3_000
"""libzmq's own pings: a connection whose peer vanished without a FIN (a dead TCP path) is
dropped after this, so its worker's next connection can take the routing id again."""
PREVIEW_AUDIO = PreviewAudio.__struct_config__.tag
"""The type tag of a worker's preview answer, which skips the actor's inbox (`_answered_preview`)."""


class _Tick(NamedTuple):
    """The clock's input: liveness, deadlines, orphans, heartbeats to the workers."""

    judge: bool
    """False right after this process itself stalled: what the peers sent during the stall
    may not be readable yet, so liveness and deadlines wait one interval for it."""
    monotonic: float
    wall: datetime
    """When the clock found the ROUTER read to the end. Everything read by then is ahead of
    this tick in the inbox, what is read later behind it; so the tick judges as of this
    moment, not of when the actor gets to it. Under load the inbox lags seconds behind: an
    outcome read before a deadline but queued behind an older tick must still win."""


class _Progress:
    """Progress frames are waiting in the backlog."""


class _Dispatch:
    """Idle workers may have work."""


class _DeliverCancels:
    """Cancels recorded in the job table may still have to reach their workers."""


class _CancelRequest(NamedTuple):
    """An HTTP cancel of a RUNNING job, for the worker that runs it."""

    worker_id: str
    job_id: str
    attempt: int


class RenderBroker:
    def __init__(self, settings: Settings, jobs: JobStore, publisher: EventPublisher, store: AssetStore) -> None:
        self._settings = settings
        self._jobs = jobs
        self._publisher = publisher
        self._store = store
        self._registry = WorkerRegistry(settings.heartbeat_interval * settings.heartbeat_liveness)
        self._commands = api_command_codec()
        self._envelope = msgspec.msgpack.Decoder(Envelope)
        self._progress = progress_codec()
        self._context = zmq.asyncio.Context()
        self._router = self._context.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._sub = self._context.socket(zmq.SUB)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        for socket in (self._router, self._sub):
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS)
            socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS)
        self._inbox: asyncio.Queue = asyncio.Queue()
        # Coalesced inputs: at most one of each waits in the inbox; the actor takes all there is.
        self._progress_backlog: list[bytes] = []
        self._dispatch_queued = False
        self._cancels_queued = False
        self._cancels_sent: set[tuple[str, int]] = set()
        """(job_id, attempt) whose worker this broker has told to stop."""
        self._tasks: list[asyncio.Task] = []
        self._started_at = 0.0
        self.rejected: Counter[str] = Counter()
        """Bus messages logged and ignored, by reason (garbage, wrong version, stale, …)."""
        self.waiting_for_engine: dict[str, int] = {}
        """PENDING jobs whose engine no connected worker offers, by engine."""
        # Its incarnation in every heartbeat tells a worker that a new broker answers it, so a
        # worker adopted from a heartbeat says Ready, with the voices a heartbeat lacks.
        self._heartbeat = Heartbeat(incarnation=uuid.uuid4().hex)
        self._previews: dict[str, asyncio.Future[PreviewAudio]] = {}
        """Voice previews asked for and not answered yet, by request id."""

    @property
    def connected_workers(self) -> int:
        return len(self._registry)

    @property
    def _liveness_sec(self) -> float:
        return self._settings.heartbeat_interval * self._settings.heartbeat_liveness

    async def start(self) -> None:
        self._router.bind(self._settings.command_endpoint)
        self._sub.bind(self._settings.event_endpoint)
        self._started_at = time.monotonic()
        self._tasks = [
            asyncio.create_task(self._guarded(loop), name=loop.__name__)
            for loop in (self._read_commands, self._read_progress, self._clock, self._act)
        ]
        # A new dispatcher (a restart, a takeover) first looks at what the table already asks of it.
        self.wake()

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._router.close()
        self._sub.close()
        self._context.term()

    def request_dispatch(self) -> None:
        if not self._dispatch_queued:
            self._dispatch_queued = True
            self._inbox.put_nowait(_Dispatch())

    def wake(self) -> None:
        """The job table changed where this broker did not see it (another API instance took a
        new job or a cancel): dispatch, and tell the workers of canceled renders to stop."""
        self.request_dispatch()
        if not self._cancels_queued:
            self._cancels_queued = True
            self._inbox.put_nowait(_DeliverCancels())

    def voice_catalog(self) -> list[VoiceInfo]:
        return self._registry.voice_catalog()

    async def preview(self, request: PreviewRequest, engine: str | None, timeout: float) -> PreviewAudio:
        """The audio a worker offering `engine` (None: any worker) spoke for `request`. Raises
        VoiceUnavailable when no worker offers it, TimeoutError when none answered in `timeout` s.

        Beside the actor, not through its inbox, both ways (see `_read_commands`): a preview
        changes no job or worker state, and under load the inbox lags seconds behind the bus
        while an editor waits for the audio. Only the choice of worker reads the registry, with
        no await in between; a worker the actor is about to forget fails the send below."""
        worker = self._registry.preview_worker(engine)
        if worker is None:
            offered = sorted(self._registry.offered_engines())
            wanted = f"the TTS engine {engine}" if engine else "any TTS engine"
            raise VoiceUnavailable(f"no connected renderer worker offers {wanted} (offered now: {', '.join(offered) or 'none'})",
                                   engine=engine, offered=offered)
        answer = asyncio.get_running_loop().create_future()
        self._previews[request.request_id] = answer
        try:
            if not await self._send(worker.identity, request):
                raise VoiceUnavailable(f"renderer worker {worker.worker_id} cannot be reached now; try again", engine=engine)
            return await asyncio.wait_for(answer, timeout)
        finally:
            self._previews.pop(request.request_id, None)

    def cancel(self, worker_id: str, job_id: str, attempt: int) -> None:
        """Tells the worker rendering `job_id` to stop; it answers with JobFinished(CANCELED).
        Through the inbox, so it leaves after any Render of that job the actor is sending."""
        self._inbox.put_nowait(_CancelRequest(worker_id, job_id, attempt))

    # --- inputs --------------------------------------------------------------------------

    @staticmethod
    async def _guarded(loop) -> None:
        # One bad message or a transient database error must not end a loop for good.
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broker loop %s failed; restarting it", loop.__name__)
                await asyncio.sleep(0.1)

    async def _read_commands(self) -> None:
        while True:
            frames = await self._router.recv_multipart()
            if not self._answered_preview(frames):
                self._inbox.put_nowait(frames)

    async def _read_progress(self) -> None:
        while True:
            frame = await self._sub.recv()
            if not self._progress_backlog:
                self._inbox.put_nowait(_Progress())
            self._progress_backlog.append(frame)

    async def _clock(self) -> None:
        interval = self._settings.heartbeat_interval
        judged_last = True
        while True:
            slept_from = time.monotonic()
            await asyncio.sleep(interval)
            read_at = await self._commands_read()
            # A tick an interval late means this process (or the whole machine) was starved;
            # libzmq's I/O thread was too, so outcomes and heartbeats sent meanwhile may still
            # be on their way in. Judging now would let deadlines and expiry win races the
            # workers did not lose. Never twice in a row: a process that is always late must
            # still enforce deadlines.
            stalled = read_at[0] - slept_from > 2 * interval
            judged_last = not (stalled and judged_last)
            self._inbox.put_nowait(_Tick(judged_last, *read_at))

    async def _commands_read(self) -> tuple[float, datetime]:
        """Returns once the ROUTER holds nothing unread (or a flood's worth has been read), with
        the moment it found it so (monotonic, wall): the tick judges deadlines and liveness as
        of then, so it must come after every outcome and heartbeat that had reached this
        process by then, however far the event loop lags behind the clock."""
        for _ in range(DRAIN_BEFORE_TICK_MAX):
            # Taken before the look, so nothing read later can be older than the tick.
            read_at = time.monotonic(), utc_now()
            if not self._router.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                break
            await asyncio.sleep(0)  # lets `_read_commands` move them into the inbox
        return read_at

    async def _act(self) -> None:
        """The actor: the one place broker state changes."""
        while True:
            item = await self._inbox.get()
            try:
                await self._handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broker failed to handle %s; going on with the next input", type(item).__name__)

    async def _handle(self, item: object) -> None:
        match item:
            case list() as frames:
                await self._handle_frames(frames)
            case _Progress():
                await self._store_progress()
            case _Tick() as tick:
                await self._tick(tick)
            case _Dispatch():
                self._dispatch_queued = False
                await self._dispatch()
            case _DeliverCancels():
                self._cancels_queued = False
                await self._deliver_cancels()
            case _CancelRequest(worker_id=worker_id, job_id=job_id, attempt=attempt):
                self._cancels_sent.add((job_id, attempt))
                await self._send(worker_id.encode(), Cancel(job_id=job_id, attempt=attempt))

    # --- commands ------------------------------------------------------------------------

    async def _handle_frames(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self._reject("frame_count", "dropped a command with %d frames", len(frames))
            return
        identity, payload = frames
        try:
            message = self._commands.decode(payload)
        except ProtocolMismatch as mismatch:
            self._reject("protocol_version", "dropped %s from %r: %s", mismatch.message_type, identity, mismatch)
            await self._send(identity, Incompatible(reason=f"this broker speaks bus protocol {PROTOCOL_VERSION}"))
            return
        except msgspec.DecodeError as error:
            self._reject("undecodable_command", "dropped an undecodable command from %r: %s", identity, error)
            return
        BUS_MESSAGES.labels("in", type(message).__name__.lower()).inc()
        now = time.monotonic()
        match message:
            case Ready(worker_id=worker_id):
                if worker_id.encode() != identity:
                    self._reject("identity_mismatch", "Ready of worker %s from identity %r ignored", worker_id, identity)
                    return
                await self._register(identity, message, now)
            case Heartbeat():
                worker = self._registry.heartbeat(identity, now)
                if worker is None:
                    # A worker that outlived an API restart without noticing: adopt it.
                    await self._register(identity, Ready(
                        worker_id=identity.decode(errors="replace"), engines=message.engines,
                        running_job=message.running_job, renders_received=message.renders_received,
                        incarnation=message.incarnation), now)
                else:
                    await self._reconcile(worker, message)
            case JobFinished():
                self._registry.heartbeat(identity, now)
                await self._apply_outcome(identity, message)
            case RenderRefused(job_id=job_id, attempt=attempt, running_job=running_job):
                log.warning("worker %r refused %s attempt %d: %s", identity, job_id, attempt, message.reason)
                self._registry.heartbeat(identity, now)
                self._registry.refused(identity, RunningJob(job_id=job_id, attempt=attempt), running_job)
                self._publisher.publish(await self._jobs.unclaim(job_id, attempt))
                self.request_dispatch()
            case Disconnect():
                worker = self._registry.remove(identity)
                if worker is not None:
                    await self._worker_lost(worker, "renderer worker shut down")

    def _reject(self, reason: str, text: str, *args: object, count: int = 1, level: int = logging.WARNING) -> None:
        self.rejected[reason] += count
        BUS_DROPPED.labels(reason).inc(count)
        log.log(level, text, *args)

    async def _register(self, identity: bytes, ready: Ready, now: float) -> None:
        if self._registry.predates_last_render(identity, ready.incarnation, ready.renders_received):
            self._registry.heartbeat(identity, now)
            self._registry.offer_voices(identity, tuple(ready.voices))
            log.debug("Ready of %s sent before its last Render arrived: kept its attempt", ready.worker_id)
            return
        running_job = ready.running_job
        previous = self._registry.owner_of(running_job.job_id) if running_job else None
        if previous is not None and previous.identity != identity:
            self._reject("identity_conflict", "worker %s claims job %s owned by %s; ignored",
                         ready.worker_id, running_job.job_id, previous.worker_id)
            return
        self._registry.ready(identity, ready.worker_id, running_job, now, frozenset(ready.engines), ready.renders_received,
                             ready.incarnation, tuple(ready.voices))
        log.info("renderer worker %s ready (engines %s, %d voices, running %s)", ready.worker_id, ",".join(ready.engines),
                 len(ready.voices), running_job)
        # Answered at once, not at the next tick: a worker that has heard no broker for a while
        # (this one just took over, or restarted) replaces its connection when its own clock
        # says so, and a replaced connection may go unheard here for a liveness period.
        await self._send(identity, self._heartbeat)
        if running_job is not None and not await self._is_current(running_job):
            await self._send(identity, Cancel(job_id=running_job.job_id, attempt=running_job.attempt))
        await self._forget_lost_attempts(ready.worker_id, running_job)
        self.request_dispatch()

    async def _apply_outcome(self, identity: bytes, outcome: JobFinished) -> None:
        finish = await self._jobs.finish(outcome, worker_id=identity.decode(errors="replace"))
        OUTCOMES.labels(finish.verdict.value).inc()
        self._log_verdict(identity, outcome, finish)
        for transition in finish.transitions:
            self._publisher.publish(transition)
        if finish.discard is not None:
            await self._discard(finish.discard)
        # Acked whatever the verdict, so the worker stops resending what is now decided.
        await self._send(identity, Ack(job_id=outcome.job_id, attempt=outcome.attempt))
        if self._registry.release(identity, RunningJob(job_id=outcome.job_id, attempt=outcome.attempt)):
            self.request_dispatch()

    async def _discard(self, job: tuple[str, str]) -> None:
        """Removes the files of a job that will never be served (they were published after it ended)."""
        try:
            await self._store.delete([job_key(*job)])
        except StorageError as error:
            # Only rows lead to files: the TTL sweep deletes them with the job.
            log.warning("could not remove the files of %s/%s now: %s", *job, error)

    def _log_verdict(self, identity: bytes, outcome: JobFinished, finish: Finish) -> None:
        if finish.verdict is Verdict.APPLIED:
            for step, seconds in outcome.step_seconds.items():
                STEP_DURATION.labels(step.value).observe(seconds)
            # Once per attempt, whatever its outcome: a resend is DUPLICATE, never counted again.
            record_tts_usage(outcome.tts_usage)
        elif finish.verdict is Verdict.DUPLICATE:
            log.debug("%s of %s attempt %d from %r again: already applied", outcome.outcome.value, outcome.job_id,
                      outcome.attempt, identity)
        else:
            self._reject("stale_outcome", "ignored %s of %s attempt %d from %r: that attempt is not its to end",
                         outcome.outcome.value, outcome.job_id, outcome.attempt, identity)

    async def _reconcile(self, worker: Worker, heartbeat: Heartbeat) -> None:
        """Heartbeats name the running job; one sent after the worker got its last Render that
        names another attempt means the worker lost the one the registry gave it."""
        believed = worker.job
        lost = self._registry.disagreement(worker.identity, heartbeat.running_job, heartbeat.renders_received)
        if worker.job == believed:
            return
        if lost is not None:
            await self._end_lost_attempt(lost, f"renderer worker {worker.worker_id} no longer runs this attempt")
        running = heartbeat.running_job
        if running is not None and not await self._is_current(running):
            await self._send(worker.identity, Cancel(job_id=running.job_id, attempt=running.attempt))
        self.request_dispatch()

    async def _forget_lost_attempts(self, worker_id: str, running_job: RunningJob | None) -> None:
        """A worker that (re)introduces itself without the attempt the database says it runs
        has lost it — typically a worker that was killed and restarted under the same id."""
        for job in await self._jobs.running_jobs():
            attempt = RunningJob(job_id=job.job_id, attempt=job.attempt)
            if job.worker_id == worker_id and attempt != running_job:
                await self._end_lost_attempt(attempt, f"renderer worker {worker_id} restarted")

    async def _end_lost_attempt(self, attempt: RunningJob, reason: str) -> None:
        """No worker runs this attempt any more; unless its outcome was recorded (the store
        decides), it is failed as lost and retried."""
        self._publisher.publish(await self._jobs.fail_attempt(
            attempt.job_id, attempt.attempt, ErrorCode.WORKER_LOST, reason, retryable=True))

    async def _deliver_cancels(self) -> None:
        """Cancels of RUNNING renders that an API instance without the bus recorded: the
        worker rendering each is told once by this broker."""
        unconfirmed = await self._jobs.unconfirmed_cancels()
        self._cancels_sent &= unconfirmed
        for job_id, attempt in unconfirmed:
            owner = self._registry.owner_of(job_id)
            if (job_id, attempt) in self._cancels_sent or owner is None or owner.job.attempt != attempt:
                continue  # a worker that re-registers with it is told then (`_register`)
            self._cancels_sent.add((job_id, attempt))
            await self._send(owner.identity, Cancel(job_id=job_id, attempt=attempt))

    async def _is_current(self, running: RunningJob) -> bool:
        job = await self._jobs.find(running.job_id)
        return job is not None and job.status == JobStatus.RUNNING.value and job.attempt == running.attempt

    # --- voice previews ------------------------------------------------------------------

    def _answered_preview(self, frames: list[bytes]) -> bool:
        """Hands a worker's PreviewAudio to the request waiting for it, at once (see `preview`);
        False for any other frame, which goes to the actor (and so does garbage)."""
        if len(frames) != 2:
            return False
        try:
            if self._envelope.decode(frames[1]).type != PREVIEW_AUDIO:
                return False
            audio = self._commands.decode(frames[1])
        except (ProtocolMismatch, msgspec.DecodeError):
            return False
        BUS_MESSAGES.labels("in", PREVIEW_AUDIO).inc()
        # Counted whether or not anyone still waits for it: the engine did the work.
        record_tts_usage(audio.tts_usage)
        answer = self._previews.get(audio.request_id)
        if answer is None or answer.done():
            self._reject("late_preview", "preview %s answered after its caller gave up", audio.request_id,
                         level=logging.DEBUG)
        else:
            answer.set_result(audio)
        return True

    # --- progress ------------------------------------------------------------------------

    async def _store_progress(self) -> None:
        frames, self._progress_backlog = self._progress_backlog, []
        events = []
        for payload in frames:
            try:
                events.append(self._progress.decode(payload))
            except (ProtocolMismatch, msgspec.DecodeError) as error:
                self._reject("undecodable_progress", "dropped an undecodable progress event: %s", error)
        BUS_MESSAGES.labels("in", "progress").inc(len(events))
        kept = progress_to_store(events)
        if len(kept) < len(events):
            self._reject("merged_progress", "fell behind the bus: stored the newest of %d progress events per job and step",
                         len(events), count=len(events) - len(kept), level=logging.DEBUG)
        for start in range(0, len(kept), PROGRESS_BATCH_MAX):
            await self._store_progress_batch(kept[start:start + PROGRESS_BATCH_MAX])

    async def _store_progress_batch(self, events: list[Progress]) -> None:
        applied, stale = await self._jobs.apply_progress_batch(events)
        if stale:
            # Normal after an outcome: its final progress was stored with it, PUB/SUB comes later.
            self._reject("stale_progress", "ignored %d progress events of jobs not running that attempt", stale,
                         count=stale, level=logging.DEBUG)
        for transition in applied:
            self._publisher.publish(transition)

    # --- the clock -----------------------------------------------------------------------

    async def _tick(self, tick: _Tick) -> None:
        if tick.judge:
            await self._judge(tick)
        else:
            log.info("broker clock woke late; liveness and deadlines wait one interval for messages still in flight")
        # On the clock, not per dispatch: dispatch follows every job create, the API's hottest write.
        await self._note_waiting()
        if self._settings.shared_job_table:
            # In case a wake-up was lost (sent while this instance was taking the role over).
            self.wake()
        # Last: a worker hears this heartbeat only after the tick's verdicts are stored.
        for identity in self._registry.identities():
            await self._send(identity, self._heartbeat)
        await self._wake_for_retries(self._settings.heartbeat_interval)

    async def _judge(self, tick: _Tick) -> None:
        """Liveness, deadlines and orphans: the verdicts that only time, not a message, brings."""
        for worker in self._registry.expire(tick.monotonic):
            log.warning("renderer worker %s missed %d heartbeats", worker.worker_id, self._settings.heartbeat_liveness)
            await self._worker_lost(worker, "renderer worker stopped answering")
        await self._time_out_overdue(tick.wall)
        if tick.monotonic - self._started_at > ORPHAN_GRACE_LIVENESSES * self._liveness_sec:
            await self._requeue_orphans(tick.wall)

    async def _wake_for_retries(self, within: float) -> None:
        """Dispatches a retry right when its backoff ends, not at the next tick."""
        retry_at = await self._jobs.next_retry_at()
        if retry_at is not None:
            delay = max(0.0, (retry_at - utc_now()).total_seconds())
            if delay <= within:
                asyncio.get_running_loop().call_later(delay, self.request_dispatch)

    async def _time_out_overdue(self, as_of: datetime) -> None:
        for job in await self._jobs.overdue(as_of):
            transition = await self._jobs.fail_attempt(
                job.job_id, job.attempt, ErrorCode.TIMEOUT, "the render took longer than its deadline", retryable=True)
            self._publisher.publish(transition)
            owner = self._registry.owner_of(job.job_id)
            if transition is not None and owner is not None:
                # It stays busy in the registry until it reports how it stopped.
                await self._send(owner.identity, Cancel(job_id=job.job_id, attempt=job.attempt))
            self.request_dispatch()

    async def _requeue_orphans(self, as_of: datetime) -> None:
        """RUNNING jobs that no live worker reports and that have been quiet for the grace
        period (e.g. their worker vanished while the API was down) are retried."""
        quiet_since = as_of - timedelta(seconds=ORPHAN_GRACE_LIVENESSES * self._liveness_sec)
        for job in await self._jobs.running_jobs():
            owner = self._registry.owner_of(job.job_id)
            if (owner is None or owner.job.attempt != job.attempt) and job.updated_at < quiet_since:
                self._publisher.publish(
                    await self._jobs.fail_attempt(job.job_id, job.attempt, ErrorCode.WORKER_LOST,
                                                  "No renderer reports this job", retryable=True)
                )
                self.request_dispatch()

    async def _worker_lost(self, worker: Worker, reason: str) -> None:
        if worker.job is not None:
            await self._end_lost_attempt(worker.job, reason)
        self.request_dispatch()

    # --- dispatch ------------------------------------------------------------------------

    async def _dispatch(self) -> None:
        found_nothing: list[frozenset[str]] = []
        for worker in self._registry.idle():
            if any(worker.engines <= engines for engines in found_nothing):
                continue  # no job for a worker offering as much or more
            claimed = await self._jobs.claim_next(worker.worker_id, worker.engines)
            if claimed is None:
                found_nothing.append(worker.engines)
                continue
            transition, work = claimed
            job = transition.job
            self._publisher.publish(transition)
            attempt = RunningJob(job_id=job.job_id, attempt=job.attempt)
            self._registry.assign(worker.identity, attempt)
            render = Render(
                job_id=job.job_id, video_id=job.video_id, attempt=job.attempt,
                script=work.script, output=self._output_for(job.video_id, job.job_id), lexicon=work.lexicon,
                deadline_sec=(job.deadline_at - utc_now()).total_seconds(),
            )
            if not await self._send(worker.identity, render):
                self._registry.remove(worker.identity)
                self._publisher.publish(await self._jobs.unclaim(job.job_id, job.attempt))
                self.request_dispatch()

    async def _note_waiting(self) -> None:
        """Jobs that no connected worker can run stay PENDING and say why (/readyz, /metrics)."""
        if not len(self._registry):
            return  # nothing to say beyond "no renderer", which /readyz already does
        transitions, self.waiting_for_engine = await self._jobs.note_waiting(self._registry.offered_engines())
        for transition in transitions:
            self._publisher.publish(transition)
        JOBS_WAITING_FOR_ENGINE.clear()
        for engine, count in self.waiting_for_engine.items():
            JOBS_WAITING_FOR_ENGINE.labels(engine).set(count)

    def _output_for(self, video_id: str, job_id: str) -> OutputSpec:
        width, height = self._settings.render_resolution
        return OutputSpec(width=width, height=height, fps=self._settings.render_fps, storage_key=job_key(video_id, job_id))

    async def _send(self, identity: bytes, message: Message) -> bool:
        kind = type(message).__name__.lower()
        try:
            await self._router.send_multipart([identity, self._commands.encode(message)])
            BUS_MESSAGES.labels("out", kind).inc()
            return True
        except zmq.ZMQError as error:
            if error.errno != zmq.EHOSTUNREACH:
                raise
            BUS_DROPPED.labels("unreachable_worker").inc()
            # INFO: the usual cause is a worker that replaced its connection (at start-up, before
            # it heard this broker, a Ready of its old one may still be read here); it says Ready
            # on the new one, and a worker truly lost is reported when it misses its heartbeats.
            log.info("worker %r has no connection now; %s not delivered", identity, type(message).__name__)
            return False


def progress_to_store(backlog: list[Progress]) -> list[Progress]:
    """All of a backlog that fits one batch. Of a longer one (the broker fell behind the bus),
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
