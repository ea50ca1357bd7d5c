"""The API as load-balancing broker: ROUTER for commands and outcomes, SUB for progress.

Workers announce themselves with `Ready`, prove liveness with `Heartbeat` every second from
their own timer, and report each attempt's outcome with `JobFinished` until it is `Ack`ed.
The broker hands PENDING jobs, oldest first, to the longest-idle worker.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter
from datetime import timedelta
from typing import NamedTuple

import msgspec
import zmq
import zmq.asyncio

from libs.contracts.bus import (
    PROTOCOL_VERSION, Ack, Cancel, Disconnect, Heartbeat, JobFinished, Message, OutputSpec, Ready,
    Render, RunningJob, api_command_codec, progress_codec,
)
from libs.contracts.codes import ErrorCode, JobStatus
from services.api.db.models import utc_now
from services.api.dispatch.registry import Worker, WorkerRegistry
from services.api.jobs.store import JobStore, Transition
from services.api.metrics.instruments import BUS_DROPPED, BUS_MESSAGES, STEP_DURATION
from services.api.progress.publisher import EventPublisher
from services.api.settings import Settings

log = logging.getLogger(__name__)

PROGRESS_BATCH_MAX = 256
PROGRESS_WAIT_SEC = 1.5
ORPHAN_GRACE_LIVENESSES = 2
"""Renderers reconnect within ~1 liveness period after an API restart; wait two before
deciding that a RUNNING job nobody reports is orphaned."""


class HeldOutcome(NamedTuple):
    identity: bytes
    outcome: JobFinished
    first_seen: float


class RenderBroker:
    def __init__(self, settings: Settings, jobs: JobStore, publisher: EventPublisher) -> None:
        self._settings = settings
        self._jobs = jobs
        self._publisher = publisher
        self._registry = WorkerRegistry(settings.heartbeat_interval * settings.heartbeat_liveness)
        self._commands = api_command_codec()
        self._progress = progress_codec()
        self._context = zmq.asyncio.Context()
        self._router = self._context.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._router.setsockopt(zmq.LINGER, 0)
        self._sub = self._context.socket(zmq.SUB)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        self._dispatch_needed = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._started_at = 0.0
        self._held_outcomes: dict[tuple[str, int], HeldOutcome] = {}
        self.rejected: Counter[str] = Counter()
        """Bus messages logged and ignored, by reason (garbage, wrong version, stale, …)."""

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
            for loop in (self._receive_commands, self._receive_progress, self._keep_alive, self._dispatch)
        ]
        self.request_dispatch()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._router.close()
        self._sub.close()
        self._context.term()

    def request_dispatch(self) -> None:
        self._dispatch_needed.set()

    async def cancel(self, worker_id: str, job_id: str) -> None:
        """Tells the worker rendering `job_id` to stop; it answers with JobFinished(CANCELED)."""
        await self._send(worker_id.encode(), Cancel(job_id=job_id))

    # --- loops ---------------------------------------------------------------------------

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

    async def _receive_commands(self) -> None:
        while True:
            frames = await self._router.recv_multipart()
            if len(frames) != 2:
                self._reject("frame_count", "dropped a command with %d frames", len(frames))
                continue
            identity, payload = frames
            try:
                message = self._commands.decode(payload)
            except msgspec.DecodeError as error:
                self._reject("undecodable_command", "dropped an undecodable command from %r: %s", identity, error)
                continue
            if message.protocol_version != PROTOCOL_VERSION:
                self._reject("protocol_version", "dropped %s from %r: protocol %s",
                             type(message).__name__, identity, message.protocol_version)
                continue
            BUS_MESSAGES.labels("in", type(message).__name__.lower()).inc()
            await self._handle_command(identity, message)

    def _reject(self, reason: str, text: str, *args: object, count: int = 1) -> None:
        self.rejected[reason] += count
        BUS_DROPPED.labels(reason).inc(count)
        log.warning(text, *args)

    async def _handle_command(self, identity: bytes, message: Message) -> None:
        now = time.monotonic()
        match message:
            case Ready(worker_id=worker_id, running_job=running_job):
                if worker_id.encode() != identity:
                    self._reject("identity_mismatch", "Ready of worker %s from identity %r ignored", worker_id, identity)
                    return
                await self._register(identity, worker_id, running_job, now)
            case Heartbeat(running_job=running_job):
                worker = self._registry.heartbeat(identity, now)
                if worker is None:
                    # A worker that outlived an API restart without noticing: adopt it.
                    await self._register(identity, identity.decode(errors="replace"), running_job, now)
                else:
                    await self._reconcile(worker, running_job, now)
            case JobFinished():
                self._registry.heartbeat(identity, now)
                if not await self._hold_for_progress(identity, message, now):
                    await self._apply_outcome(identity, message)
            case Disconnect():
                worker = self._registry.remove(identity)
                if worker is not None:
                    await self._worker_lost(worker, "renderer worker shut down")

    async def _register(self, identity: bytes, worker_id: str, running_job: RunningJob | None, now: float) -> None:
        previous = self._registry.owner_of(running_job.job_id) if running_job else None
        if previous is not None and previous.identity != identity:
            self._reject("identity_conflict", "worker %s claims job %s owned by %s; ignored",
                         worker_id, running_job.job_id, previous.worker_id)
            return
        self._registry.ready(identity, worker_id, running_job, now)
        log.info("renderer worker %s ready (running %s)", worker_id, running_job)
        if running_job is not None and not await self._is_current(running_job):
            await self._send(identity, Cancel(job_id=running_job.job_id))
        await self._forget_lost_attempts(worker_id, running_job)
        self.request_dispatch()

    async def _hold_for_progress(self, identity: bytes, outcome: JobFinished, now: float) -> bool:
        """Progress travels over PUB/SUB, the outcome over the DEALER, so the last step changes
        can arrive after it. Holds the outcome until that progress is stored (the progress loop
        then applies it) or PROGRESS_WAIT_SEC pass (the keep-alive loop applies it)."""
        job = await self._jobs.find(outcome.job_id)
        behind = (job is not None and job.status == JobStatus.RUNNING.value and job.attempt == outcome.attempt
                  and job.renderer_seq < outcome.progress_seq)
        if not behind:
            return False
        key = (outcome.job_id, outcome.attempt)
        first_seen = self._held_outcomes[key].first_seen if key in self._held_outcomes else now
        self._held_outcomes[key] = HeldOutcome(identity, outcome, first_seen)
        return True

    async def _apply_outcome(self, identity: bytes, outcome: JobFinished) -> None:
        self._held_outcomes.pop((outcome.job_id, outcome.attempt), None)
        transition = await self._jobs.finish(outcome, worker_id=identity.decode(errors="replace"))
        if transition is None:
            self._reject("stale_outcome", "ignored %s of %s attempt %d from %r: not its running attempt",
                         outcome.outcome.value, outcome.job_id, outcome.attempt, identity)
        else:
            for step, seconds in outcome.step_seconds.items():
                STEP_DURATION.labels(step.value).observe(seconds)
        self._publisher.publish(transition)
        # Acked even when ignored, so the worker stops resending what can never apply.
        await self._send(identity, Ack(job_id=outcome.job_id, attempt=outcome.attempt))
        self._registry.release(identity, outcome.job_id)
        self.request_dispatch()

    async def _release_held_outcomes(self, caught_up: list[Transition], waited_since: float) -> None:
        """Applies held outcomes whose progress is now stored, and those held since before `waited_since`."""
        seqs = {(t.job.job_id, t.job.attempt): t.job.renderer_seq for t in caught_up}
        for key, held in list(self._held_outcomes.items()):
            if seqs.get(key, -1) >= held.outcome.progress_seq or held.first_seen < waited_since:
                await self._apply_outcome(held.identity, held.outcome)

    async def _reconcile(self, worker: Worker, running_job: RunningJob | None, now: float) -> None:
        """Heartbeats name the running job; a worker that keeps naming another one (e.g. it was
        restarted and its Ready got lost) has lost the attempt the registry gave it."""
        believed = self._registry.disagreement(worker.identity, running_job, now, grace=2 * self._settings.heartbeat_interval)
        if believed is None:
            return
        await self._end_lost_attempt(believed.job_id, believed.attempt,
                                     f"renderer worker {worker.worker_id} no longer runs this attempt")
        if running_job is not None and not await self._is_current(running_job):
            await self._send(worker.identity, Cancel(job_id=running_job.job_id))
        self.request_dispatch()

    async def _forget_lost_attempts(self, worker_id: str, running_job: RunningJob | None) -> None:
        """A worker that (re)introduces itself without the attempt the database says it runs
        has lost it — typically a worker that was killed and restarted under the same id."""
        for job in await self._jobs.running_jobs():
            if job.worker_id == worker_id and RunningJob(job_id=job.job_id, attempt=job.attempt) != running_job:
                await self._end_lost_attempt(job.job_id, job.attempt, f"renderer worker {worker_id} restarted")

    async def _end_lost_attempt(self, job_id: str, attempt: int, reason: str) -> None:
        """A worker no longer runs this attempt: if its outcome already came and only waits for
        its progress, that outcome stands; otherwise the attempt is lost (and retried)."""
        held = self._held_outcomes.get((job_id, attempt))
        if held is not None:
            await self._apply_outcome(held.identity, held.outcome)
        else:
            self._publisher.publish(await self._jobs.fail_attempt(job_id, attempt, ErrorCode.WORKER_LOST, reason, retryable=True))

    async def _is_current(self, running: RunningJob) -> bool:
        job = await self._jobs.find(running.job_id)
        return job is not None and job.status == JobStatus.RUNNING.value and job.attempt == running.attempt

    async def _receive_progress(self) -> None:
        while True:
            batch = [await self._sub.recv()]
            # Whatever else is already waiting goes into the same transaction.
            while len(batch) < PROGRESS_BATCH_MAX:
                try:
                    batch.append(await self._sub.recv(flags=zmq.NOBLOCK))
                except zmq.Again:
                    break
            events = []
            for payload in batch:
                try:
                    events.append(self._progress.decode(payload))
                except msgspec.DecodeError as error:
                    self._reject("undecodable_progress", "dropped an undecodable progress event: %s", error)
            BUS_MESSAGES.labels("in", "progress").inc(len(events))
            applied, stale = await self._jobs.apply_progress_batch(events)
            if stale:
                self._reject("stale_progress", "ignored %d progress events of jobs not running that attempt", stale, count=stale)
            for transition in applied:
                self._publisher.publish(transition)
            if self._held_outcomes:
                await self._release_held_outcomes(applied, waited_since=time.monotonic() - PROGRESS_WAIT_SEC)

    async def _keep_alive(self) -> None:
        interval = self._settings.heartbeat_interval
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for identity in self._registry.identities():
                await self._send(identity, Heartbeat())
            for worker in self._registry.expire(now):
                log.warning("renderer worker %s missed %d heartbeats", worker.worker_id, self._settings.heartbeat_liveness)
                await self._worker_lost(worker, "renderer worker stopped answering")
            await self._time_out_overdue()
            await self._release_held_outcomes([], waited_since=now - PROGRESS_WAIT_SEC)
            if now - self._started_at > ORPHAN_GRACE_LIVENESSES * self._liveness_sec:
                await self._requeue_orphans()
            await self._wake_for_retries(interval)

    async def _wake_for_retries(self, within: float) -> None:
        """Dispatches a retry right when its backoff ends, not at the next tick."""
        retry_at = await self._jobs.next_retry_at()
        if retry_at is not None:
            delay = max(0.0, (retry_at - utc_now()).total_seconds())
            if delay <= within:
                asyncio.get_running_loop().call_later(delay, self.request_dispatch)

    async def _time_out_overdue(self) -> None:
        for job in await self._jobs.overdue():
            owner = self._registry.owner_of(job.job_id)
            if owner is not None:
                await self._send(owner.identity, Cancel(job_id=job.job_id))
            self._publisher.publish(await self._jobs.fail_attempt(
                job.job_id, job.attempt, ErrorCode.TIMEOUT, "the render took longer than its deadline", retryable=True))

    async def _requeue_orphans(self) -> None:
        """RUNNING jobs that no live worker reports and that have been quiet for the grace
        period (e.g. their worker vanished while the API was down) are retried."""
        quiet_since = utc_now() - timedelta(seconds=ORPHAN_GRACE_LIVENESSES * self._liveness_sec)
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
            await self._end_lost_attempt(worker.job.job_id, worker.job.attempt, reason)
        self.request_dispatch()

    async def _dispatch(self) -> None:
        while True:
            await self._dispatch_needed.wait()
            self._dispatch_needed.clear()
            for worker in self._registry.idle():
                claimed = await self._jobs.claim_next(worker.worker_id)
                if claimed is None:
                    break
                transition, script = claimed
                job = transition.job
                self._publisher.publish(transition)
                if worker.identity not in self._registry:
                    # It disconnected or expired while the claim was being written.
                    self._publisher.publish(await self._jobs.unclaim(job.job_id, job.attempt))
                    self.request_dispatch()
                    continue
                self._registry.assign(worker.identity, RunningJob(job_id=job.job_id, attempt=job.attempt), time.monotonic())
                render = Render(
                    job_id=job.job_id, video_id=job.video_id, attempt=job.attempt,
                    script=script, output=self._output_for(job.video_id, job.job_id),
                )
                if not await self._send(worker.identity, render):
                    self._registry.remove(worker.identity)
                    self._publisher.publish(await self._jobs.unclaim(job.job_id, job.attempt))
                    self.request_dispatch()

    def _output_for(self, video_id: str, job_id: str) -> OutputSpec:
        width, height = self._settings.render_resolution
        return OutputSpec(width=width, height=height, fps=self._settings.render_fps, storage_key=f"{video_id}/{job_id}")

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
            log.warning("worker %r is gone; %s not delivered", identity, type(message).__name__)
            return False
