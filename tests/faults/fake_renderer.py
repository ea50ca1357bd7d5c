"""Protocol peers for fault tests: sockets that talk to the real API broker as a renderer
would, and a fake renderer worker that renders nothing but speaks the whole protocol."""

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import zmq

from libs.contracts.bus import (
    Ack,
    Disconnect,
    Heartbeat,
    JobFinished,
    Message,
    Outcome,
    Progress,
    Ready,
    Render,
    RenderedAssets,
    RenderRefused,
    RunningJob,
    api_command_codec,
    progress_codec,
    renderer_codec,
)
from libs.contracts.codes import Step
from services.renderer.outbox import Outbox

SLOW_JOINER_SEC = 0.5
"""PUB/SUB drops what a publisher sends before the subscription has reached it."""
HEARTBEAT_SEC = 1.0


@contextmanager
def zmq_context() -> Iterator[zmq.Context]:
    """A context whose sockets are dropped on the way out, sent or not."""
    context = zmq.Context()
    try:
        yield context
    finally:
        context.destroy(linger=0)


def bus_sockets(context: zmq.Context, stack, identity: str) -> tuple[zmq.Socket, zmq.Socket]:
    """A DEALER with `identity` on the stack's command endpoint and a PUB on its event endpoint."""
    dealer, pub = context.socket(zmq.DEALER), context.socket(zmq.PUB)
    dealer.setsockopt(zmq.IDENTITY, identity.encode())
    for socket in (dealer, pub):
        socket.setsockopt(zmq.LINGER, 0)
    dealer.connect(f"tcp://127.0.0.1:{stack.command_port}")
    pub.connect(f"tcp://127.0.0.1:{stack.event_port}")
    return dealer, pub


class FakeRenderer(threading.Thread):
    """Takes Render jobs one at a time (refusing those that come while it is busy), publishes
    `events_per_step` Progress events for every Step at `events_per_sec`, reports
    JobFinished(SUCCEEDED) with the newest event of each step and resends it on the real
    worker's ack timeouts until it is acknowledged; heartbeats every second throughout, with
    the count of Renders received. Records what it sent."""

    def __init__(self, stack, identity: str, *, events_per_step: int, events_per_sec: float) -> None:
        super().__init__(name=identity, daemon=True)
        self._stack = stack
        self.identity = identity
        self._events_per_step = events_per_step
        self._event_interval = 1.0 / events_per_sec
        self._stopping = threading.Event()
        self._commands, self._replies, self._progress = api_command_codec(), renderer_codec(), progress_codec()
        self.sent_steps: dict[str, set[Step]] = defaultdict(set)
        self.progress_sent = 0
        self.outcomes_resent = 0
        self.renders_received = 0

    def stop(self) -> None:
        """Finishes the job in hand and its acknowledgement, then says Disconnect."""
        self._stopping.set()

    def run(self) -> None:
        with zmq_context() as context:
            self._dealer, self._pub = bus_sockets(context, self._stack, self.identity)
            time.sleep(SLOW_JOINER_SEC)
            self._serve()

    def _serve(self) -> None:
        self._send(Ready(worker_id=self.identity))
        job: Render | None = None
        pending: list[Step] = []
        latest: dict[Step, Progress] = {}
        unacked = Outbox()
        next_beat = next_event = time.monotonic()
        while not (self._stopping.is_set() and job is None and not unacked):
            now, resend_at = time.monotonic(), unacked.next_due()
            deadlines = [next_beat, *([next_event] if job else []), *([resend_at] if resend_at is not None else [])]
            if self._dealer.poll(max(0, int((min(deadlines) - now) * 1000))):
                match self._replies.decode(self._dealer.recv()):
                    case Render() as render:
                        self.renders_received += 1
                        if job is None:
                            job, next_event, latest = render, time.monotonic(), {}
                            pending = [step for step in Step for _ in range(self._events_per_step)]
                        else:
                            self._send(
                                RenderRefused(
                                    job_id=render.job_id,
                                    attempt=render.attempt,
                                    reason="busy",
                                    running_job=RunningJob(job_id=job.job_id, attempt=job.attempt),
                                )
                            )
                    case Ack(job_id=job_id, attempt=attempt):
                        unacked.ack(job_id, attempt)
            now = time.monotonic()
            if now >= next_beat:
                running = RunningJob(job_id=job.job_id, attempt=job.attempt) if job else None
                self._send(Heartbeat(running_job=running, renders_received=self.renders_received))
                next_beat = now + HEARTBEAT_SEC
            if job is not None and now >= next_event:
                step = pending.pop(0)
                latest[step] = self._publish(job, step, seq=len(Step) * self._events_per_step - len(pending))
                next_event += self._event_interval
                if not pending:
                    outcome = JobFinished(
                        job_id=job.job_id,
                        attempt=job.attempt,
                        outcome=Outcome.SUCCEEDED,
                        assets=RenderedAssets(duration_sec=1.0),
                        final_progress=list(latest.values()),
                    )
                    unacked.put(outcome, now)
                    self._send(outcome)
                    job = None
            for outcome in unacked.due(now):
                self.outcomes_resent += 1
                self._send(outcome)
        self._send(Disconnect())

    def _publish(self, job: Render, step: Step, seq: int) -> Progress:
        self.progress_sent += 1
        self.sent_steps[job.job_id].add(step)
        event = Progress(
            job_id=job.job_id,
            video_id=job.video_id,
            attempt=job.attempt,
            seq=seq,
            step=step,
            progress=seq * 100 // (len(Step) * self._events_per_step + 1),
            message=step.value,
            ts=time.time(),
        )
        self._pub.send(self._progress.encode(event))
        return event

    def _send(self, message: Message) -> None:
        self._dealer.send(self._commands.encode(message))
