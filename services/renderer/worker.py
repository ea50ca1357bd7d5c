"""One renderer worker: a DEALER for commands and outcomes, a PUB for progress, and one
render at a time on a thread so heartbeats keep flowing while it works (DESIGN §3). Voice and
scene previews have a lane of their own beside the render (services.renderer.preview).

libzmq reconnects the DEALER by itself, with backoff, when a connection breaks, and its ZMTP
heartbeats break one whose TCP path died without a word. What libzmq cannot see is a broker
that stopped answering over a connection that looks fine. So after `heartbeat_liveness` silent
intervals the worker closes its DEALER, opens a fresh one (a routing id of its own, so the
broker hears it at once) and says Ready with its running job (the Guide's Paranoid Pirate),
again every liveness period while the silence lasts, and once more when the broker answers,
so a restarted API re-attaches the render in progress. Outcomes are resent on their own ack
timeouts (services.renderer.outbox) until the broker acknowledges them.
"""

import argparse
import asyncio
import logging
import signal
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import cast

import msgspec
import zmq
import zmq.asyncio

from libs.contracts.bus import (
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Disconnect,
    EngineUsage,
    Heartbeat,
    Incompatible,
    JobFinished,
    Message,
    Outcome,
    PreviewRequest,
    Progress,
    ProtocolMismatch,
    Ready,
    Render,
    RenderRefused,
    RunningJob,
    ScenePreviewRequest,
    VoiceInfo,
    progress_codec,
    renderer_codec,
)
from libs.contracts.codes import Step
from libs.logs import configure_logging, log_context
from libs.storage import store_of
from libs.tasks import cancel_and_wait
from services.renderer.outbox import Outbox
from services.renderer.pipeline import RenderCanceled, RenderFailure, render_job
from services.renderer.preview import PreviewLane
from services.renderer.settings import RendererSettings
from services.renderer.sockets import command_socket, event_socket
from services.renderer.tts import usable_engines
from services.renderer.voice_catalog import gather_voices
from services.renderer.watchdog import EXIT_INCOMPATIBLE, SupervisorLink

log = logging.getLogger("services.renderer.worker")  # not "__main__": it runs with -m

EARLY_CANCELS_KEPT = 64
"""Cancels of attempts this worker does not run, remembered in case their Render comes next."""


@dataclass
class CurrentRender:
    job: Render
    cancel: threading.Event = field(default_factory=threading.Event)
    task: "asyncio.Task[None] | None" = None
    """The task that renders it (held here so the loop's weak reference is not the only one)."""
    cancel_requested_at: float | None = None
    seq: int = 0
    step: Step | None = None
    step_started_at: float = 0.0
    step_seconds: dict[Step, float] = field(default_factory=dict)
    """Wall time of each step this attempt completed, sent with its outcome."""
    latest_progress: dict[Step, Progress] = field(default_factory=dict)
    """The newest Progress published for each step, sent with the outcome (JobFinished.final_progress)."""

    @property
    def running(self) -> RunningJob:
        return RunningJob(job_id=self.job.job_id, attempt=self.job.attempt)

    @property
    def final_progress(self) -> list[Progress]:
        return sorted(self.latest_progress.values(), key=lambda event: event.seq)

    def enter_step(self, step: Step | None, at: float) -> None:
        """Closes the running step's timing (None: the render is over) and starts `step`'s."""
        if step == self.step:
            return
        if self.step is not None:
            self.step_seconds[self.step] = at - self.step_started_at
            log.info("step %s took %.3f s", self.step.value, self.step_seconds[self.step])
        self.step, self.step_started_at = step, at


class Worker:
    def __init__(self, worker_id: str, settings: RendererSettings, supervisor: SupervisorLink) -> None:
        self._id = worker_id
        self._settings = settings
        self._supervisor = supervisor
        self._storage = store_of(settings)
        self._engines, unusable = usable_engines(settings)
        for engine, reason in unusable.items():
            # Only the configured engine's absence is a fault; the others are merely not set up here.
            level = logging.WARNING if engine == settings.tts_engine else logging.INFO
            log.log(level, "TTS engine %s is unavailable here: %s", engine, reason)
        self._context = zmq.asyncio.Context()
        self._codec = renderer_codec()
        self._progress_encoder = progress_codec()
        self._dealer = command_socket(self._context, worker_id, settings)
        self._pub = event_socket(self._context, settings)
        self._liveness_sec = settings.heartbeat_interval * settings.heartbeat_liveness
        self._started_at = time.monotonic()
        self._broker_seen: float | None = None
        self._reopen_at = self._started_at + self._liveness_sec
        self._silent_since: float | None = None
        self._dropped = False
        """A message was dropped for want of a connection (see `_send`)."""
        self._current: CurrentRender | None = None
        self._renders_received = 0
        self._incarnation = uuid.uuid4().hex
        self._early_cancels: deque[tuple[str, int | None]] = deque(maxlen=EARLY_CANCELS_KEPT)
        self._outbox = Outbox()
        self._resend_timer: asyncio.TimerHandle | None = None
        self._exit_code = 0
        self._stopping = asyncio.Event()
        self._voices: list[VoiceInfo] = []
        """Gathered once, just after start (a cloud engine's list is a request): until then, none."""
        self._previews = PreviewLane(worker_id, settings, self._storage, self._send)
        self._broker_incarnation = ""
        """The incarnation of the broker this worker last heard (see `_hear_broker`)."""

    async def run(self) -> int:
        """Serves until SIGTERM/SIGINT (0) or a broker of another protocol (EXIT_INCOMPATIBLE)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        self._say_ready()
        tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._heartbeat()),
            asyncio.create_task(self._offer_voices()),
        ]
        await self._stopping.wait()
        if self._current is not None:
            self._current.cancel.set()
        self._previews.close()
        self._send(Disconnect())
        await cancel_and_wait(tasks)
        self._context.destroy(linger=0)
        return self._exit_code

    # --- connection ----------------------------------------------------------------------

    @property
    def _running_job(self) -> RunningJob | None:
        return self._current.running if self._current else None

    def _say_ready(self) -> None:
        # Outcomes first: the broker must learn a job ended before it hears this worker is idle.
        self._dropped = False
        for outcome in self._outbox.restart(time.monotonic()):
            self._send(outcome)
        self._arm_resend_timer()
        self._send(
            Ready(
                worker_id=self._id,
                engines=self._engines,
                running_job=self._running_job,
                renders_received=self._renders_received,
                incarnation=self._incarnation,
                voices=self._voices,
            )
        )

    async def _offer_voices(self) -> None:
        """Registered at once, able to render; its voices follow in a second Ready when listed."""
        self._voices = await asyncio.to_thread(gather_voices, self._engines, self._settings)
        log.info("offering %d voices of %s", len(self._voices), ", ".join(self._engines))
        if self._voices:
            self._say_ready()

    def _hear_broker(self, incarnation: str) -> None:
        """A broker names its incarnation in its heartbeats. One that changed took over the
        dispatcher role or restarted, and may have adopted this worker from a heartbeat, which
        carries no voices: it hears a Ready. (After a silence `_listen` says Ready anyway.)"""
        if not incarnation:
            return  # a broker that does not say (an older version)
        known, self._broker_incarnation = self._broker_incarnation, incarnation
        if known and incarnation != known and self._silent_since is None:
            log.info("a new broker answers; saying Ready to it")
            self._say_ready()

    def _send(self, message: Message) -> None:
        """Sends now or drops the message: the queue is full only while the broker is away,
        and what it must learn is repeated (outcomes, Ready, heartbeats and their count of
        Renders received, which also tells it about a RenderRefused that never came).

        With several endpoints (one per API instance) the socket is IMMEDIATE: a message sent
        while no connection is up is dropped, not queued in order. So after a drop the next
        heartbeat is outcomes and Ready again, in that order: a broker that takes this worker
        over must not hear it is idle (a heartbeat naming no job) before it hears how the job
        it was running ended, or it would fail that job as lost."""
        if not _send_now(self._dealer, self._codec.encode(message)):
            self._dropped = True

    async def _heartbeat(self) -> None:
        """Runs on its own timer, so a long render never looks like a dead worker."""
        while True:
            await asyncio.sleep(self._settings.heartbeat_interval)
            self._watch_cancel()
            self._supervisor.beat()
            if self._dropped:
                self._say_ready()
            else:
                self._send(
                    Heartbeat(
                        running_job=self._running_job,
                        renders_received=self._renders_received,
                        engines=self._engines,
                        incarnation=self._incarnation,
                    )
                )

    def _watch_cancel(self) -> None:
        current = self._current
        if current is None or current.cancel_requested_at is None:
            return
        if time.monotonic() - current.cancel_requested_at > self._settings.cancel_grace_sec:
            log.error("%s did not stop within %.0f s of its cancel", current.job.job_id, self._settings.cancel_grace_sec)
            self._supervisor.ask_to_be_killed()

    async def _listen(self) -> None:
        """Reads the broker's commands; the only task that touches the DEALER's receiving side,
        so it is also the one that replaces the DEALER while the broker is silent."""
        while not self._stopping.is_set():
            wait = self._reopen_at - time.monotonic()
            if wait <= 0:
                self._reopen_command_socket()
                continue
            if not await self._dealer.poll(int(wait * 1000) + 1):
                continue
            payload = await self._dealer.recv()
            now = time.monotonic()
            self._broker_seen, self._reopen_at = now, now + self._liveness_sec
            try:
                message = self._codec.decode(payload)
            except ProtocolMismatch as mismatch:
                self._stop_incompatible(
                    f"the broker speaks bus protocol {mismatch.version}, this worker speaks {PROTOCOL_VERSION}"
                )
                continue
            except msgspec.DecodeError as error:
                log.warning("dropped an undecodable command: %s", error)
                continue
            self._handle(message)
            if self._silent_since is not None:
                # After handling, so a Render that ended the silence is in the Ready it sends.
                log.info("broker is back after %.0f s of silence; saying Ready again", now - self._silent_since)
                self._silent_since = None
                self._say_ready()

    def _reopen_command_socket(self) -> None:
        now = time.monotonic()
        if self._silent_since is not None:
            log.debug("broker still silent; re-creating the command socket again")
        elif self._broker_seen is None:
            # Normal while the API is still starting: honcho and systemd start both at once.
            log.info(
                "broker silent: no answer from %s yet; re-creating the command socket",
                ", ".join(self._settings.command_endpoints),
            )
        else:
            log.warning("broker silent for %.0f s; re-creating the command socket", now - self._broker_seen)
        if self._silent_since is None:
            self._silent_since = self._broker_seen or self._started_at
        self._dealer.close()
        self._dealer = command_socket(self._context, self._id, self._settings)
        self._reopen_at = now + self._liveness_sec
        self._say_ready()

    def _handle(self, message: Message) -> None:
        match message:
            case Render():
                self._renders_received += 1
                self._take(message)
            case Cancel(job_id=job_id, attempt=attempt):
                self._cancel(job_id, attempt)
            case Ack(job_id=job_id, attempt=attempt):
                self._outbox.ack(job_id, attempt)
            case Incompatible(reason=reason):
                self._stop_incompatible(f"the broker refuses this worker ({reason})")
            case Heartbeat(incarnation=incarnation):
                self._hear_broker(incarnation)
            case PreviewRequest() | ScenePreviewRequest():
                self._previews.take(message)

    def _stop_incompatible(self, problem: str) -> None:
        log.error("%s; run the same slidereel version on both", problem)
        self._exit_code = EXIT_INCOMPATIBLE
        self._stopping.set()

    def _cancel(self, job_id: str, attempt: int | None) -> None:
        current = self._current
        if current is not None and current.job.job_id == job_id and attempt in (None, current.job.attempt):
            if not current.cancel.is_set():
                log.info("canceling %s", job_id)
                current.cancel_requested_at = time.monotonic()
                current.cancel.set()
            return
        # The broker sends a Render once its claim committed; a cancel committed just after
        # may be sent first, so a Cancel can overtake the Render it is about.
        self._early_cancels.append((job_id, attempt))

    # --- outcomes ------------------------------------------------------------------------

    def _finish(self, outcome: JobFinished) -> None:
        self._outbox.put(outcome, time.monotonic())
        self._send(outcome)
        self._arm_resend_timer()

    def _arm_resend_timer(self) -> None:
        if self._resend_timer is not None:
            self._resend_timer.cancel()
        due = self._outbox.next_due()
        self._resend_timer = (
            None if due is None else asyncio.get_running_loop().call_later(max(0.0, due - time.monotonic()), self._resend_due)
        )

    def _resend_due(self) -> None:
        for outcome in self._outbox.due(time.monotonic()):
            self._send(outcome)
        self._arm_resend_timer()

    # --- rendering -----------------------------------------------------------------------

    def _take(self, job: Render) -> None:
        current = self._current
        if (job.job_id, job.attempt) in self._early_cancels or (job.job_id, None) in self._early_cancels:
            log.info("%s attempt %d was canceled before its Render arrived", job.job_id, job.attempt)
            self._finish(JobFinished(job_id=job.job_id, attempt=job.attempt, outcome=Outcome.CANCELED))
        elif current is None:
            self._current = CurrentRender(job=job)
            self._current.task = asyncio.create_task(self._render(self._current))
        elif current.running == RunningJob(job_id=job.job_id, attempt=job.attempt):
            # Refusing it would put the attempt back in the queue while it renders here.
            log.warning("got a second Render of %s attempt %d, which it is rendering; ignored", job.job_id, job.attempt)
        else:
            log.warning(
                "refused %s attempt %d: busy with %s attempt %d", job.job_id, job.attempt, current.job.job_id, current.job.attempt
            )
            self._send(
                RenderRefused(
                    job_id=job.job_id,
                    attempt=job.attempt,
                    running_job=current.running,
                    reason=f"busy with {current.job.job_id} attempt {current.job.attempt}",
                )
            )

    async def _render(self, current: CurrentRender) -> None:
        job = current.job
        # Every line about this render, from this task and its render thread, names the job.
        with log_context(job_id=job.job_id, video_id=job.video_id, attempt=job.attempt):
            await self._render_in_context(current)

    async def _render_in_context(self, current: CurrentRender) -> None:
        loop = asyncio.get_running_loop()
        job = current.job
        log.info("rendering %s attempt %d", job.job_id, job.attempt)

        def report(step: Step, progress: int, message: str) -> None:
            loop.call_soon_threadsafe(self._publish_progress, current, step, progress, message, time.monotonic())

        tts_usage: list[EngineUsage] = []
        try:
            assets = await asyncio.to_thread(
                render_job,
                job,
                settings=self._settings,
                storage=self._storage,
                report=report,
                cancel=current.cancel,
                tts_usage=tts_usage,
            )
            current.enter_step(None, time.monotonic())
            outcome = JobFinished(job_id=job.job_id, attempt=job.attempt, outcome=Outcome.SUCCEEDED, assets=assets)
        except RenderCanceled:
            outcome = JobFinished(job_id=job.job_id, attempt=job.attempt, outcome=Outcome.CANCELED)
        except RenderFailure as failure:
            outcome = JobFinished(
                job_id=job.job_id,
                attempt=job.attempt,
                outcome=Outcome.FAILED,
                error_code=failure.error_code,
                error_message=str(failure),
                retryable=failure.retryable,
            )
        log.info("%s attempt %d ended %s", job.job_id, job.attempt, outcome.outcome.value)
        # Progress callbacks queued by the render thread ran before this await returned.
        outcome = msgspec.structs.replace(
            outcome, step_seconds=current.step_seconds, final_progress=current.final_progress, tts_usage=tts_usage
        )
        self._current = None
        self._finish(outcome)

    def _publish_progress(self, current: CurrentRender, step: Step, progress: int, message: str, at: float) -> None:
        current.enter_step(step, at)
        current.seq += 1
        event = Progress(
            job_id=current.job.job_id,
            video_id=current.job.video_id,
            attempt=current.job.attempt,
            seq=current.seq,
            step=step,
            progress=progress,
            message=message,
            ts=time.time(),
        )
        current.latest_progress[step] = event
        _send_now(self._pub, self._progress_encoder.encode(event))


def _send_now(socket: zmq.asyncio.Socket, frame: bytes) -> bool:
    """Sends `frame` or drops it (returns False); a non-blocking send on a zmq.asyncio socket
    completes at once."""
    try:
        # zmq.asyncio types its send as an awaitable; it is a Future, done already.
        cast("asyncio.Future[object]", socket.send(frame, flags=zmq.NOBLOCK)).result()
    except zmq.Again:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description="One slidereel renderer worker (started by the supervisor).")
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--watchdog-fd", type=int, default=None, help="pipe to the supervisor (set by it)")
    args = parser.parse_args()
    settings = RendererSettings()
    configure_logging(settings.log_level, settings.log_format, service="renderer", worker_id=args.worker_id)
    sys.exit(asyncio.run(Worker(args.worker_id, settings, SupervisorLink(args.watchdog_fd)).run()))


if __name__ == "__main__":
    main()
