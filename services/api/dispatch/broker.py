"""The API as load-balancing broker: ROUTER for commands and outcomes, SUB for progress.

Workers announce themselves with `Ready`, prove liveness with `Heartbeat` every second, and
report each attempt's outcome with `JobFinished` until it is `Ack`ed. PENDING jobs go, oldest
first, to the longest-idle worker that offers the engine the job's voice needs.

The broker is the ZeroMQ Guide's ppqueue loop: it reads, decides and sends, and never waits for
anything else. Every handler below is synchronous and runs on the event loop to its end, so no
two decisions interleave, and nothing it does waits for the database: what must be stored goes
to the job-state service (dispatch/job_state.py), which calls back once it is committed (a
worker is acknowledged, freed or given its next Render only then). So heartbeats leave on time,
and workers are judged alive or lost by what they send, whatever the database is doing.

    sockets ──▶ handlers ──▶ registry (liveness, who runs what)
                   │   ▲
      commands     ▼   │  after commit: start_render, settled, stop_render
                job-state service ──▶ lifecycle ──▶ job table ──▶ events announced
"""

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, cast

import msgspec
import zmq

from libs.contracts.bus import (
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Disconnect,
    Heartbeat,
    Incompatible,
    JobFinished,
    Message,
    OutputSpec,
    PreviewAnswer,
    PreviewAsk,
    PreviewAudio,
    PreviewRequest,
    ProtocolMismatch,
    Ready,
    Render,
    RenderRefused,
    RunningJob,
    ScenePreviewRequest,
    ScenePreviewVideo,
    VoiceInfo,
    api_command_codec,
    progress_codec,
    worker_of,
)
from libs.contracts.script import VideoFormatName
from libs.frames import frame_size
from libs.storage import job_key
from libs.tasks import cancel_and_wait
from services.api.db.models import utc_now
from services.api.dispatch.job_state import JobStateService
from services.api.dispatch.registry import Worker, WorkerRegistry
from services.api.errors import VoiceUnavailable
from services.api.jobs.lifecycle import Claimed
from services.api.metrics.instruments import BUS_DROPPED, BUS_MESSAGES
from services.api.metrics.tts import record_tts_usage
from services.api.settings import Settings

log = logging.getLogger(__name__)

READS_PER_TURN = 256
"""Messages read from one socket before the event loop's other work gets a turn."""
ORPHAN_GRACE_LIVENESSES = 2
"""Renderers reconnect within ~1 liveness period after an API restart; wait two before
deciding that a RUNNING job nobody reports is orphaned."""
ZMTP_HEARTBEAT_IVL_MS = 1_000
ZMTP_HEARTBEAT_TIMEOUT_MS = 3_000
"""libzmq's own pings: a connection whose peer vanished without a FIN (a dead TCP path) is
closed after this, so sending to it fails at once instead of queueing for nobody."""
AnswerT = TypeVar("AnswerT", PreviewAudio, ScenePreviewVideo)


@dataclass
class AskedPreview:
    """A preview sent to a worker's preview lane and not answered yet. It is addressed to the
    worker, not to one of its connections: a worker re-creates its command socket when the
    broker was silent for a liveness period, and right after a takeover that can happen just
    after the new broker adopted it, so a request sent on the old connection is lost with it."""

    request: PreviewAsk
    worker_id: str
    sent_on: bytes | None
    """The connection it went out on; None when sending failed (that connection is gone)."""
    answer: asyncio.Future[PreviewAnswer]


def output_spec(settings: Settings, format_name: VideoFormatName, storage_key: str) -> OutputSpec:
    """How a video in `format_name` is encoded (RENDER_RESOLUTION, RENDER_FPS), to be stored at `storage_key`."""
    width, height = frame_size(format_name, settings.render_resolution)
    return OutputSpec(width=width, height=height, fps=settings.render_fps, storage_key=storage_key)


class RenderBroker:
    def __init__(self, settings: Settings, new_job_state: Callable[["RenderBroker"], JobStateService]) -> None:
        self._settings = settings
        self._liveness_sec = settings.heartbeat_interval * settings.heartbeat_liveness
        self._registry = WorkerRegistry(self._liveness_sec)
        self._job_state = new_job_state(self)
        self._commands = api_command_codec()
        self._progress = progress_codec()
        self._context = zmq.Context()
        self._router = self._context.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._sub = self._context.socket(zmq.SUB)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        for socket in (self._router, self._sub):
            socket.setsockopt(zmq.LINGER, 0)
            socket.setsockopt(zmq.HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS)
            socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS)
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = 0.0
        self.rejected: Counter[str] = Counter()
        """Bus messages logged and ignored, by reason (garbage, wrong version, stale, …)."""
        # Its incarnation in every heartbeat tells a worker that a new broker answers it, so a
        # worker first heard by a heartbeat says Ready, with the voices a heartbeat lacks.
        self._heartbeat = Heartbeat(incarnation=uuid.uuid4().hex)
        self._previews: dict[str, AskedPreview] = {}
        """Voice and scene previews asked for and not answered yet, by request id."""

    @property
    def connected_workers(self) -> int:
        return len(self._registry)

    @property
    def waiting_for_engine(self) -> dict[str, int]:
        return self._job_state.waiting_for_engine

    async def start(self) -> None:
        self._router.bind(self._settings.command_endpoint)
        self._sub.bind(self._settings.event_endpoint)
        self._started_at = time.monotonic()
        loop = asyncio.get_running_loop()
        loop.add_reader(self._router, self._read_commands)
        loop.add_reader(self._sub, self._read_progress)
        self._tasks = [
            asyncio.create_task(self._clock(), name="broker-clock"),
            asyncio.create_task(self._job_state.run(), name="job-state"),
        ]
        # A new dispatcher (a restart, a takeover) first looks at what the table already asks of it.
        self.wake()

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        for socket in (self._router, self._sub):
            loop.remove_reader(socket)
        await cancel_and_wait(self._tasks)
        self._context.destroy(linger=0)

    def request_dispatch(self) -> None:
        self._job_state.dispatch()

    def wake(self) -> None:
        """The job table changed where this broker did not see it (another API instance took a
        new job or a cancel): dispatch, and tell the workers of canceled renders to stop. Not a
        sweep: every create wakes the dispatcher on PostgreSQL, and deadlines wait for the clock."""
        self._job_state.dispatch()
        self._job_state.deliver_cancels()

    def cancel(self, worker_id: str, job_id: str, attempt: int) -> None:
        """Tells the worker rendering `job_id` to stop; it answers with JobFinished(CANCELED)."""
        worker = self._registry.get(worker_id)
        if worker is not None:
            self._send(worker.identity, Cancel(job_id=job_id, attempt=attempt))

    def voice_catalog(self) -> list[VoiceInfo]:
        return self._registry.voice_catalog()

    async def preview(self, request: PreviewRequest, engine: str | None, timeout: float) -> PreviewAudio:
        """The audio a worker offering `engine` (None: any worker) spoke for `request`. Raises
        VoiceUnavailable when no worker offers it, TimeoutError when none answered in `timeout` s."""
        return await self._ask_preview_lane(request, PreviewAudio, engine, timeout)

    async def preview_scene(self, request: ScenePreviewRequest, engine: str | None, timeout: float) -> ScenePreviewVideo:
        """The MP4 a worker offering `engine` rendered for `request`; raises as `preview`."""
        return await self._ask_preview_lane(request, ScenePreviewVideo, engine, timeout)

    async def _ask_preview_lane(
        self, request: PreviewAsk, answer_type: type[AnswerT], engine: str | None, timeout: float
    ) -> AnswerT:
        """Sends `request` to the preview lane of a worker offering `engine`, busy or not, and waits
        for its answer (see `preview`)."""
        worker = self._registry.preview_worker(engine)
        if worker is None:
            offered = sorted(self._registry.offered_engines())
            wanted = f"the TTS engine {engine}" if engine else "any TTS engine"
            raise VoiceUnavailable(
                f"no connected renderer worker offers {wanted} (offered now: {', '.join(offered) or 'none'})",
                engine=engine,
                offered=offered,
            )
        asked = AskedPreview(request, worker.worker_id, None, asyncio.get_running_loop().create_future())
        self._previews[request.request_id] = asked
        try:
            self._send_preview(asked, worker)
            answered = await asyncio.wait_for(asked.answer, timeout)
        finally:
            self._previews.pop(request.request_id, None)
        if not isinstance(answered, answer_type):  # a worker's bug: its lane answers each kind in kind
            raise TypeError(
                f"renderer worker {worker.worker_id} answered a {type(request).__name__} with {type(answered).__name__}"
            )
        return answered

    def _send_preview(self, asked: AskedPreview, worker: Worker) -> None:
        """Sends `asked` on `worker`'s connection. One that is gone fails the send: its worker says
        Ready on a new one within a heartbeat, and `_admit` sends it again there."""
        asked.sent_on = worker.identity if self._send(worker.identity, asked.request) else None

    def _resend_previews(self, worker: Worker) -> None:
        """The previews `worker` was asked on a connection it has replaced since."""
        for asked in self._previews.values():
            if asked.worker_id == worker.worker_id and asked.sent_on != worker.identity and not asked.answer.done():
                log.info("asking worker %s again for preview %s, on its new link", worker.worker_id, asked.request.request_id)
                self._send_preview(asked, worker)

    # --- what the job-state service asks, after its commits (job_state.Broker) -------------

    def idle_workers(self) -> list[tuple[str, frozenset[str]]]:
        return [(worker.worker_id, worker.engines) for worker in self._registry.idle()]

    def start_render(self, worker_id: str, claimed: Claimed) -> bool:
        worker = self._registry.get(worker_id)
        if worker is None or worker.job is not None:
            return False
        job = claimed.job
        render = Render(
            job_id=job.job_id,
            video_id=job.video_id,
            attempt=job.attempt,
            script=claimed.script,
            lexicon=claimed.lexicon,
            theme=claimed.theme,
            output=output_spec(self._settings, claimed.script.format, job_key(job.video_id, job.job_id)),
            deadline_sec=(job.deadline_at - utc_now()).total_seconds() if job.deadline_at else None,
        )
        if not self._send(worker.identity, render):
            self._registry.remove(worker_id)  # that connection is gone; the worker says Ready on its next
            return False
        self._registry.assign(worker, RunningJob(job_id=job.job_id, attempt=job.attempt))
        return True

    def settled(self, identity: bytes, outcome: JobFinished) -> None:
        ack = Ack(job_id=outcome.job_id, attempt=outcome.attempt)
        worker_id = worker_of(identity)
        if not self._send(identity, ack) and (worker := self._registry.get(worker_id)) is not None:
            self._send(worker.identity, ack)  # it came on a connection the worker has replaced since
        if self._registry.release(worker_id, RunningJob(job_id=outcome.job_id, attempt=outcome.attempt)):
            self.request_dispatch()

    def stop_render(self, job_id: str, attempt: int) -> None:
        owner = self._registry.owner_of(job_id)
        if owner is not None and owner.job is not None and owner.job.attempt == attempt:
            self._send(owner.identity, Cancel(job_id=job_id, attempt=attempt))

    def owned_attempts(self) -> dict[str, int]:
        return {worker.job.job_id: worker.job.attempt for worker in self._registry.workers() if worker.job is not None}

    def offered_engines(self) -> set[str] | None:
        return self._registry.offered_engines() if len(self._registry) else None

    def wake_at(self, when: datetime) -> None:
        """Dispatches a retry right when its backoff ends, not at the next tick."""
        delay = max(0.0, (when - utc_now()).total_seconds())
        if delay <= self._settings.heartbeat_interval:
            asyncio.get_running_loop().call_later(delay, self.request_dispatch)

    # --- reading ---------------------------------------------------------------------------

    def _read_commands(self) -> None:
        self._read(self._router, self._read_commands, self._on_frames)

    def _read_progress(self) -> None:
        self._read(self._sub, self._read_progress, self._on_progress)

    def _read(self, socket: zmq.Socket[bytes], again: Callable[[], None], handle: Callable[[list[bytes]], None]) -> None:
        """Everything the socket holds, a turn's worth at a time. libzmq signals its descriptor
        only on a change, so a socket is read until it says it has nothing left."""
        for _ in range(READS_PER_TURN):
            try:
                frames = socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                handle(frames)
            except Exception:
                log.exception("broker failed to handle a message; going on with the next")
        asyncio.get_running_loop().call_soon(again)

    def _on_progress(self, frames: list[bytes]) -> None:
        events = []
        for payload in frames:
            try:
                events.append(self._progress.decode(payload))
            except (ProtocolMismatch, msgspec.DecodeError) as error:
                self._reject("undecodable_progress", "dropped an undecodable progress event: %s", error)
        BUS_MESSAGES.labels("in", "progress").inc(len(events))
        self._job_state.progress(events)

    def _on_frames(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self._reject("frame_count", "dropped a command with %d frames", len(frames))
            return
        identity, payload = frames
        try:
            message = self._commands.decode(payload)
        except ProtocolMismatch as mismatch:
            self._reject("protocol_version", "dropped %s from %r: %s", mismatch.message_type, identity, mismatch)
            self._send(identity, Incompatible(reason=f"this broker speaks bus protocol {PROTOCOL_VERSION}"))
            return
        except msgspec.DecodeError as error:
            self._reject("undecodable_command", "dropped an undecodable command from %r: %s", identity, error)
            return
        BUS_MESSAGES.labels("in", type(message).__name__.lower()).inc()
        self._on_message(identity, message)

    def _on_message(self, identity: bytes, message: Message) -> None:
        worker_id, now = worker_of(identity), time.monotonic()
        if self._registry.retired(identity) and not isinstance(message, JobFinished):
            self._reject(
                "replaced_connection",
                "ignored %s from a connection %s replaced",
                type(message).__name__,
                worker_id,
                level=logging.DEBUG,
            )
            return
        worker = self._registry.get(worker_id)
        current = worker if worker is not None and worker.identity == identity else None
        if current is not None:
            self._registry.heard(current, now)
        match message:
            case Ready():
                if message.worker_id != worker_id:
                    self._reject("identity_mismatch", "Ready of worker %s from identity %r ignored", message.worker_id, identity)
                else:
                    self._on_ready(identity, message, current, now)
            case Heartbeat() if current is not None:
                self._account(current, message.running_job, message.renders_received)
            case Heartbeat():
                # A worker this broker does not know (it restarted or took the role over) or
                # one held apart: heard as if it said Ready, which it will once it hears us.
                self._on_ready(
                    identity,
                    Ready(
                        worker_id=worker_id,
                        engines=message.engines,
                        running_job=message.running_job,
                        renders_received=message.renders_received,
                        incarnation=message.incarnation,
                    ),
                    None,
                    now,
                )
            case JobFinished():
                self._job_state.outcome(identity, message)
            case RenderRefused(job_id=job_id, attempt=attempt, running_job=running_job):
                log.warning("worker %s refused %s attempt %d: %s", worker_id, job_id, attempt, message.reason)
                if current is not None and current.job == RunningJob(job_id=job_id, attempt=attempt):
                    current.job = running_job
                self._job_state.give_back(job_id, attempt)
            case Disconnect() if current is not None:
                self._registry.remove(worker_id)
                self._lose(current, "renderer worker shut down")
            case Disconnect():
                held = self._registry.held(worker_id)
                if held is not None and held.identity == identity:
                    self._registry.drop_held(worker_id)
            case PreviewAudio() | ScenePreviewVideo():
                self._on_preview(message)

    def _on_ready(self, identity: bytes, ready: Ready, current: Worker | None, now: float) -> None:
        if current is not None:  # its connection's Ready again: what it runs is as good as a heartbeat's word
            current.voices = tuple(ready.voices) or current.voices
            self._account(current, ready.running_job, ready.renders_received)
            return
        known = self._registry.get(ready.worker_id)
        newcomer = Worker(
            worker_id=ready.worker_id,
            identity=identity,
            incarnation=ready.incarnation,
            expires_at=now + self._liveness_sec,
            job=ready.running_job,
            engines=frozenset(ready.engines),
            voices=tuple(ready.voices),
            renders_sent=ready.renders_received,
        )
        if known is not None and known.incarnation != ready.incarnation and self._send(known.identity, self._heartbeat):
            # Another process under a live worker's id: it waits, unanswered, until that one is gone.
            if self._registry.held(ready.worker_id) is None:
                self._reject(
                    "identity_conflict",
                    "a second process says it is worker %s; held apart while the first lives",
                    ready.worker_id,
                )
            self._registry.hold(newcomer)
            return
        self._admit(newcomer, replaced=known)

    def _admit(self, worker: Worker, replaced: Worker | None) -> None:
        """`worker` is now the one under its id; what the one it replaced ran, it has lost."""
        self._registry.register(worker)
        log.info(
            "renderer worker %s ready (engines %s, %d voices, running %s)",
            worker.worker_id,
            ",".join(worker.engines),
            len(worker.voices),
            worker.job,
        )
        # Answered at once, not at the next tick, so it knows this broker hears it.
        self._send(worker.identity, self._heartbeat)
        self._resend_previews(worker)
        if replaced is not None and replaced.job is not None and replaced.job != worker.job:
            self._job_state.lost(replaced.job.job_id, replaced.job.attempt, f"renderer worker {worker.worker_id} restarted")
        if worker.job is not None and (replaced is None or replaced.job != worker.job):
            self._job_state.verify(worker.job.job_id, worker.job.attempt, worker.worker_id)
        self.request_dispatch()

    def _account(self, worker: Worker, running: RunningJob | None, renders_received: int) -> None:
        believed = worker.job
        if not self._registry.account(worker, running, renders_received):
            return
        if believed is not None:
            self._job_state.lost(
                believed.job_id, believed.attempt, f"renderer worker {worker.worker_id} no longer runs this attempt"
            )
        if running is not None:
            self._job_state.verify(running.job_id, running.attempt, worker.worker_id)
        self.request_dispatch()

    def _lose(self, worker: Worker, reason: str) -> None:
        if worker.job is not None:
            self._job_state.lost(worker.job.job_id, worker.job.attempt, reason)
        self.request_dispatch()

    def _on_preview(self, answered: PreviewAnswer) -> None:
        # Counted whether or not anyone still waits for it: the engine did the work.
        record_tts_usage(answered.tts_usage)
        asked = self._previews.get(answered.request_id)
        if asked is None or asked.answer.done():
            self._reject("late_preview", "preview %s answered after its caller gave up", answered.request_id, level=logging.DEBUG)
        else:
            asked.answer.set_result(answered)

    def _reject(self, reason: str, text: str, *args: object, level: int = logging.WARNING) -> None:
        self.reject(reason)
        log.log(level, text, *args)

    def reject(self, reason: str, count: int = 1) -> None:
        """Counts messages ignored for `reason` (/readyz, /metrics)."""
        self.rejected[reason] += count
        BUS_DROPPED.labels(reason).inc(count)

    # --- the clock -------------------------------------------------------------------------

    async def _clock(self) -> None:
        interval = self._settings.heartbeat_interval
        judged_last = True
        while True:
            slept_from = time.monotonic()
            await asyncio.sleep(interval)
            # Everything delivered by now is handled before this tick, so its verdicts come
            # after every outcome and heartbeat that reached this process in time.
            self._read_commands()
            self._read_progress()
            now = time.monotonic()
            # A tick an interval late means this process (or the machine) was starved, libzmq's
            # I/O thread too: heartbeats sent meanwhile may still be on their way in. Liveness
            # waits one tick for them, never two in a row (a process always late must still judge).
            judged_last = not (now - slept_from > 2 * interval and judged_last)
            try:
                self._tick(now, judge=judged_last)
            except Exception:
                log.exception("broker tick failed; the next one comes in %.1f s", interval)

    def _tick(self, now: float, *, judge: bool) -> None:
        if judge:
            dead, successors = self._registry.expire(now)
            for worker in dead:
                log.warning("renderer worker %s missed %d heartbeats", worker.worker_id, self._settings.heartbeat_liveness)
                self._lose(worker, "renderer worker stopped answering")
            for worker in successors:
                self._admit(worker, replaced=None)
        else:
            log.info("broker clock woke late; liveness waits one interval for messages still in flight")
        for worker in self._registry.workers():
            self._send(worker.identity, self._heartbeat)
        self._job_state.sweep(utc_now(), self._orphans_after())
        if self._settings.shared_job_table:
            self._job_state.dispatch()  # in case a wake-up was lost (sent while this instance took the role over)

    def _orphans_after(self) -> timedelta | None:
        grace = ORPHAN_GRACE_LIVENESSES * self._liveness_sec
        return timedelta(seconds=grace) if time.monotonic() - self._started_at > grace else None

    # --- sending ---------------------------------------------------------------------------

    def _send(self, identity: bytes, message: Message) -> bool:
        """Sends now, or says it could not: the connection is gone (a worker that replaced it
        says Ready on its new one; one truly lost misses its heartbeats) or its queue is full."""
        try:
            self._router.send_multipart([identity, self._commands.encode(message)], zmq.NOBLOCK)
        except zmq.ZMQError as error:
            if error.errno not in (zmq.EHOSTUNREACH, zmq.EAGAIN):
                raise
            BUS_DROPPED.labels("unreachable_worker").inc()
            log.info("worker %r has no connection now; %s not delivered", identity, type(message).__name__)
            return False
        BUS_MESSAGES.labels("out", type(message).__name__.lower()).inc()
        # A send may take the descriptor's wake-up for messages that arrived meanwhile.
        if cast(int, self._router.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
            asyncio.get_running_loop().call_soon(self._read_commands)
        return True
