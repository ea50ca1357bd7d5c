"""One renderer worker: a DEALER for commands and outcomes, a PUB for progress, and one
render at a time on a thread so heartbeats keep flowing while it works (DESIGN §3).

libzmq reconnects the DEALER by itself, with backoff, when the API goes away; the worker
keeps heartbeating (each heartbeat names its running job) and says Ready again when the
broker answers after a silence, so a restarted API re-attaches the render in progress.
Outcomes are kept and resent until the broker acknowledges them.
"""

import argparse
import asyncio
import contextlib
import logging
import signal
import threading
import time
from dataclasses import dataclass, field

import msgspec
import zmq
import zmq.asyncio

from libs.contracts.bus import (
    Ack, Cancel, Disconnect, Heartbeat, JobFinished, Message, Outcome, Progress, Ready, Render, RunningJob,
    progress_codec, renderer_codec,
)
from libs.contracts.codes import ErrorCode, Step
from libs.logs import configure_json_logging, log_context
from services.renderer.pipeline import RenderCanceled, RenderFailure, render_job
from services.renderer.settings import RendererSettings
from services.renderer.tts import usable_engines
from services.renderer.watchdog import SupervisorLink

log = logging.getLogger("services.renderer.worker")  # not "__main__": it runs with -m

RECONNECT_IVL_MS = 100
RECONNECT_IVL_MAX_MS = 2_000


@dataclass
class CurrentRender:
    job: Render
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_requested_at: float | None = None
    seq: int = 0
    step: Step | None = None
    step_started_at: float = 0.0
    step_seconds: dict[Step, float] = field(default_factory=dict)
    """Wall time of each step this attempt completed, sent with its outcome."""

    @property
    def running(self) -> RunningJob:
        return RunningJob(job_id=self.job.job_id, attempt=self.job.attempt)

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
        self._engines, unusable = usable_engines(settings.coqui_model_dir, settings.coqui_threads)
        for engine, reason in unusable.items():
            log.warning("TTS engine %s is unavailable here: %s", engine, reason)
        self._context = zmq.asyncio.Context()
        self._codec = renderer_codec()
        self._progress_encoder = progress_codec()
        self._dealer = self._context.socket(zmq.DEALER)
        self._dealer.setsockopt(zmq.IDENTITY, worker_id.encode())
        self._dealer.setsockopt(zmq.LINGER, 0)
        # Not IMMEDIATE: the first Ready must wait in the queue until the connection is up.
        self._dealer.setsockopt(zmq.RECONNECT_IVL, RECONNECT_IVL_MS)
        self._dealer.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
        self._dealer.connect(settings.command_endpoint)
        self._pub = self._context.socket(zmq.PUB)
        self._pub.setsockopt(zmq.LINGER, 0)
        self._pub.connect(settings.event_endpoint)
        self._current: CurrentRender | None = None
        self._unacked: dict[tuple[str, int], JobFinished] = {}
        self._broker_seen = time.monotonic()
        self._broker_silent = False
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._stopping.set)
        await self._say_ready()
        tasks = [asyncio.create_task(self._receive()), asyncio.create_task(self._heartbeat())]
        await self._stopping.wait()
        if self._current is not None:
            self._current.cancel.set()
        await self._send(Disconnect())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._context.destroy(linger=0)

    # --- connection ----------------------------------------------------------------------

    @property
    def _running_job(self) -> RunningJob | None:
        return self._current.running if self._current else None

    async def _say_ready(self) -> None:
        # Outcomes first: the broker must learn a job ended before it hears this worker is idle.
        await self._resend_outcomes()
        await self._send(Ready(worker_id=self._id, engines=self._engines, running_job=self._running_job))

    async def _resend_outcomes(self) -> None:
        for outcome in list(self._unacked.values()):
            await self._send(outcome)

    async def _send(self, message: Message) -> None:
        """Sends now or drops the message: everything here is repeated until it is answered."""
        with contextlib.suppress(zmq.Again):
            await self._dealer.send(self._codec.encode(message), flags=zmq.NOBLOCK)

    async def _heartbeat(self) -> None:
        """Runs on its own timer, so a long render never looks like a dead worker."""
        interval = self._settings.heartbeat_interval
        while True:
            await asyncio.sleep(interval)
            self._watch_cancel()
            self._supervisor.beat()
            if not self._broker_silent and time.monotonic() - self._broker_seen > interval * self._settings.heartbeat_liveness:
                self._broker_silent = True
                log.warning("broker silent; heartbeating until it answers again")
            await self._resend_outcomes()
            await self._send(Heartbeat(running_job=self._running_job))

    def _watch_cancel(self) -> None:
        current = self._current
        if current is None or current.cancel_requested_at is None:
            return
        if time.monotonic() - current.cancel_requested_at > self._settings.cancel_grace_sec:
            log.error("%s did not stop within %.0f s of its cancel", current.job.job_id, self._settings.cancel_grace_sec)
            self._supervisor.ask_to_be_killed()

    async def _receive(self) -> None:
        while True:
            payload = await self._dealer.recv()
            self._broker_seen = time.monotonic()
            try:
                message = self._codec.decode(payload)
            except msgspec.DecodeError as error:
                log.warning("dropped an undecodable command: %s", error)
                continue
            self._handle(message)
            if self._broker_silent:
                # After handling, so a Render that ended the silence is in the Ready it sends.
                self._broker_silent = False
                log.info("broker is back; saying Ready again")
                await self._say_ready()

    def _handle(self, message: Message) -> None:
        match message:
            case Render():
                self._start(message)
            case Cancel(job_id=job_id):
                current = self._current
                if current is not None and current.job.job_id == job_id and not current.cancel.is_set():
                    log.info("canceling %s", job_id)
                    current.cancel_requested_at = time.monotonic()
                    current.cancel.set()
            case Ack(job_id=job_id, attempt=attempt):
                self._unacked.pop((job_id, attempt), None)

    # --- rendering -----------------------------------------------------------------------

    def _start(self, job: Render) -> None:
        if self._current is not None:
            log.error("got %s while rendering %s; refusing", job.job_id, self._current.job.job_id)
            return
        self._current = CurrentRender(job=job)
        asyncio.create_task(self._render(self._current))

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

        try:
            assets = await asyncio.to_thread(
                render_job, job, settings=self._settings, report=report, cancel=current.cancel
            )
            current.enter_step(None, time.monotonic())
            outcome = JobFinished(job_id=job.job_id, attempt=job.attempt, outcome=Outcome.SUCCEEDED, assets=assets)
        except RenderCanceled:
            outcome = JobFinished(job_id=job.job_id, attempt=job.attempt, outcome=Outcome.CANCELED)
        except RenderFailure as failure:
            outcome = JobFinished(
                job_id=job.job_id, attempt=job.attempt, outcome=Outcome.FAILED, error_code=failure.error_code,
                error_message=str(failure), retryable=failure.retryable,
            )
        except Exception as error:
            log.exception("render of %s crashed", job.job_id)
            outcome = JobFinished(
                job_id=job.job_id, attempt=job.attempt, outcome=Outcome.FAILED, error_code=ErrorCode.RENDER_FAILED,
                error_message=f"{type(error).__name__}: {error}", retryable=True,
            )
        log.info("%s attempt %d ended %s", job.job_id, job.attempt, outcome.outcome.value)
        # Progress callbacks queued by the render thread ran before this await returned.
        outcome = msgspec.structs.replace(outcome, progress_seq=current.seq, step_seconds=current.step_seconds)
        self._current = None
        self._unacked[(job.job_id, job.attempt)] = outcome
        await self._send(outcome)

    def _publish_progress(self, current: CurrentRender, step: Step, progress: int, message: str, at: float) -> None:
        current.enter_step(step, at)
        current.seq += 1
        event = Progress(
            job_id=current.job.job_id, video_id=current.job.video_id, attempt=current.job.attempt,
            seq=current.seq, step=step, progress=progress, message=message, ts=time.time(),
        )
        with contextlib.suppress(zmq.Again):
            self._pub.send(self._progress_encoder.encode(event), flags=zmq.NOBLOCK)


def main() -> None:
    parser = argparse.ArgumentParser(description="One slidereel renderer worker (started by the supervisor).")
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--watchdog-fd", type=int, default=None, help="pipe to the supervisor (set by it)")
    args = parser.parse_args()
    settings = RendererSettings()
    configure_json_logging(settings.log_level, service="renderer", worker_id=args.worker_id)
    asyncio.run(Worker(args.worker_id, settings, SupervisorLink(args.watchdog_fd)).run())


if __name__ == "__main__":
    main()
