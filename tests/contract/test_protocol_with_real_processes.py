"""Each side of the bus against the real other side: real worker processes (and the real
supervisor) against a ROUTER and SUB owned by the test, and the real API broker against a
DEALER and PUB owned by the test."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from libs.contracts.bus import (
    PROTOCOL_VERSION,
    Ack,
    Cancel,
    Heartbeat,
    Incompatible,
    JobFinished,
    Message,
    Outcome,
    OutputSpec,
    Progress,
    Ready,
    Render,
    RenderedAssets,
    RenderRefused,
    RunningJob,
    api_command_codec,
    progress_codec,
    renderer_codec,
    worker_of,
)
from libs.contracts.codes import Step
from libs.contracts.script import Scene, Script, Slide
from services.renderer.watchdog import EXIT_INCOMPATIBLE
from tests.client import approved_script, new_video_id
from tests.stack import ROOT, Stack, free_port

TINY = Script(title="t", language="en", scenes=[Scene(narration="One short sentence. And one more.", slide=Slide(title="Hello"))])
COMMANDS, PROGRESS, TO_WORKER = api_command_codec(), progress_codec(), renderer_codec()
HEARTBEAT_SEC = 1.0
WORKER_ID = "contract-w0"


class Bus:
    """A ROUTER and a SUB bound on free ports, as the API would bind them. While the test
    waits, both are read (libzmq attaches a SUB's new connections, and sends them its
    subscription, only when the socket is used) and every worker heard from gets a heartbeat
    each second, as the broker does, so the workers do not take it for a silent broker."""

    def __init__(self, context: zmq.Context) -> None:
        self.router, self.sub = context.socket(zmq.ROUTER), context.socket(zmq.SUB)
        self.command_port, self.event_port = free_port(), free_port()
        self.router.bind(f"tcp://127.0.0.1:{self.command_port}")
        self.sub.bind(f"tcp://127.0.0.1:{self.event_port}")
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self._poller = zmq.Poller()
        for socket in (self.router, self.sub):
            self._poller.register(socket, zmq.POLLIN)
        self.commands: deque[tuple[float, bytes, Message]] = deque()
        """(when it arrived, from whom, what) of each command not taken by `receive` yet."""
        self.events: list[Progress] = []
        self._workers: set[bytes] = set()
        self._next_beat = time.monotonic()

    def send(self, identity: bytes, message: Message) -> None:
        self.router.send_multipart([identity, TO_WORKER.encode(message)])

    def receive(
        self, want: type, where: Callable[[Message], bool] = lambda _: True, timeout: float = 10.0
    ) -> tuple[bytes, Message]:
        """The next command from a worker that is a `want` and passes `where`; others are skipped."""
        deadline = time.monotonic() + timeout
        while self._wait(deadline, lambda: bool(self.commands)):
            _, identity, message = self.commands.popleft()
            if isinstance(message, want) and where(message):
                return identity, message
        raise TimeoutError(f"no {want.__name__} within {timeout} s")

    def commands_during(self, seconds: float) -> list[tuple[float, Message]]:
        """Every command not taken yet and those that arrive within `seconds`, with when each arrived."""
        self._wait(time.monotonic() + seconds, lambda: False)
        seen = [(at, message) for at, _, message in self.commands]
        self.commands.clear()
        return seen

    def progress(self, timeout: float = 30.0) -> Progress:
        if not self._wait(time.monotonic() + timeout, lambda: bool(self.events)):
            raise TimeoutError(f"no Progress within {timeout} s")
        return self.events.pop(0)

    def _wait(self, deadline: float, done: Callable[[], bool]) -> bool:
        """Reads both sockets until `done()` (True) or `deadline` (False)."""
        while not done():
            now = time.monotonic()
            if now >= deadline:
                return False
            if now >= self._next_beat:
                for identity in self._workers:
                    self.send(identity, Heartbeat())
                self._next_beat = now + HEARTBEAT_SEC
            for socket, _ in self._poller.poll(int((min(deadline, self._next_beat) - now) * 1000) + 1):
                if socket is self.sub:
                    self.events.append(PROGRESS.decode(self.sub.recv()))
                else:
                    identity, payload = self.router.recv_multipart()
                    self._workers.add(identity)
                    self.commands.append((time.monotonic(), identity, COMMANDS.decode(payload)))
        return True


def receive(socket: zmq.Socket, decode, want: type | None = None, timeout: float = 10.0):
    """The next message on `socket` that is a `want`, as (first frame, message)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket.poll(int(max(0.0, deadline - time.monotonic()) * 1000)):
            frames = socket.recv_multipart()
            message = decode(frames[-1])
            if want is None or isinstance(message, want):
                return frames[0], message
    raise TimeoutError(f"no {want.__name__ if want else 'message'} within {timeout} s")


@pytest.fixture
def bus() -> Iterator[Bus]:
    context = zmq.Context()
    yield Bus(context)
    context.destroy(linger=0)


def bus_env(bus: Bus, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ASSET_DIR": str(tmp_path / "assets"),
        "RENDER_COMMAND_ENDPOINT": f"tcp://127.0.0.1:{bus.command_port}",
        "RENDER_EVENT_ENDPOINT": f"tcp://127.0.0.1:{bus.event_port}",
    }


@contextlib.contextmanager
def real_worker(bus: Bus, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, Path]]:
    """A worker process on the test's bus, its log in the returned file; stopped on the way out."""
    log = tmp_path / f"{WORKER_ID}.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "services.renderer.worker", "--worker-id", WORKER_ID],
            env=bus_env(bus, tmp_path),
            stderr=output,
        )
    try:
        yield worker, log
    finally:
        worker.terminate()
        worker.wait(timeout=10)


def log_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def render(job_id: str, attempt: int = 1) -> Render:
    return Render(
        job_id=job_id,
        video_id="vid",
        attempt=attempt,
        script=TINY,
        output=OutputSpec(width=640, height=360, storage_key=f"vid/{job_id}"),
    )


def finished(job_id: str, attempt: int = 1) -> Callable[[Message], bool]:
    return lambda message: (message.job_id, message.attempt) == (job_id, attempt)


def test_real_worker_renders_reports_its_final_progress_and_resends_until_acked(bus, tmp_path):
    with real_worker(bus, tmp_path) as (_, log):
        identity, ready = bus.receive(Ready)
        assert worker_of(identity) == WORKER_ID and ready.worker_id == WORKER_ID
        # coqui and supertonic cannot run without their models, so they are not offered; cloud
        # engines are, key or not (a job asking for one fails at once naming the setting).
        assert ready.engines == ["azure", "espeak", "google"]
        assert ready.renders_received == 0 and ready.running_job is None
        _, heartbeat = bus.receive(Heartbeat, timeout=3)
        assert heartbeat.running_job is None and heartbeat.renders_received == 0

        bus.send(identity, render("job-c1"))
        event = bus.progress()
        assert event.job_id == "job-c1" and event.attempt == 1 and isinstance(event.step, Step)
        _, outcome = bus.receive(JobFinished, timeout=60)
        first_seen = time.monotonic()
        assert outcome.outcome is Outcome.SUCCEEDED and outcome.assets.duration_sec > 1
        assert (tmp_path / "assets" / "vid" / "job-c1" / outcome.assets.video).is_file()

        final = outcome.final_progress
        assert [event.step for event in final] == list(Step), "the newest event of every step, in order"
        assert [event.seq for event in final] == sorted({event.seq for event in final})
        assert final[-1].progress == 100
        assert {(event.job_id, event.video_id, event.attempt) for event in final} == {("job-c1", "vid", 1)}
        _, heartbeat = bus.receive(Heartbeat, where=lambda beat: beat.renders_received == 1, timeout=3)
        assert heartbeat.running_job is None

        _, resent = bus.receive(JobFinished, timeout=10)
        assert resent == outcome, "an unacknowledged outcome must be resent"
        assert time.monotonic() - first_seen >= 1.0, "resent before its ack timeout"
        bus.send(identity, Ack(job_id="job-c1", attempt=1))
        # Without the Ack the next copy would come 4 s after this one.
        with pytest.raises(TimeoutError):
            bus.receive(JobFinished, timeout=5)
    assert not [line for line in log_lines(log) if line["level"] in ("WARNING", "ERROR")], "a normal render warned"


def test_an_unacknowledged_outcome_is_resent_with_backoff_not_on_every_heartbeat(bus, tmp_path):
    with real_worker(bus, tmp_path):
        identity, _ = bus.receive(Ready)
        bus.send(identity, render("job-backoff"))
        bus.receive(JobFinished, timeout=60)
        first_seen = time.monotonic()
        # Resends are due 2 s and 6 s after the first send, the next at 14 s.
        seen = bus.commands_during(7.5)
        resent = [at - first_seen for at, message in seen if isinstance(message, JobFinished)]
        heartbeats = sum(isinstance(message, Heartbeat) for _, message in seen)
        assert 1 <= len(resent) <= 3 and resent[0] >= 1.0, f"resent at {resent} s"
        assert heartbeats >= 4 and len(resent) < heartbeats
        bus.send(identity, Ack(job_id="job-backoff", attempt=1))


def test_a_render_while_busy_is_refused_with_a_nack_naming_the_running_job(bus, tmp_path):
    with real_worker(bus, tmp_path) as (_, log):
        identity, _ = bus.receive(Ready)
        for job in (render("job-a"), render("job-a"), render("job-b")):
            bus.send(identity, job)
        _, refused = bus.receive(RenderRefused)
        assert (refused.job_id, refused.attempt) == ("job-b", 1), "only the other job is refused, not a repeat of the running one"
        assert refused.running_job == RunningJob(job_id="job-a", attempt=1) and "job-a" in refused.reason
        bus.receive(Heartbeat, where=lambda beat: beat.renders_received == 3, timeout=5)  # the refused ones count too
        _, outcome = bus.receive(JobFinished, timeout=60)
        assert (outcome.job_id, outcome.outcome) == ("job-a", Outcome.SUCCEEDED)
        bus.send(identity, Ack(job_id="job-a", attempt=1))
    warnings = [line["message"] for line in log_lines(log) if line["level"] == "WARNING"]
    assert len(warnings) == 2 and "refused job-b attempt 1: busy with job-a attempt 1" in warnings


def test_a_cancel_that_overtakes_its_render_is_answered_canceled_and_a_later_attempt_still_renders(bus, tmp_path):
    with real_worker(bus, tmp_path):
        identity, _ = bus.receive(Ready)
        bus.receive(Heartbeat)  # by now the worker's PUB has our subscription: nothing it publishes is dropped
        bus.send(identity, Cancel(job_id="job-any"))
        bus.send(identity, Cancel(job_id="job-c", attempt=1))
        for job in (render("job-any", attempt=3), render("job-c", attempt=1)):
            bus.send(identity, job)
            _, outcome = bus.receive(JobFinished, where=finished(job.job_id, job.attempt))
            assert outcome.outcome is Outcome.CANCELED and outcome.final_progress == []
            bus.send(identity, Ack(job_id=job.job_id, attempt=job.attempt))

        bus.send(identity, render("job-c", attempt=2))  # the retry the Cancel of attempt 1 was not about
        _, outcome = bus.receive(JobFinished, where=finished("job-c", 2), timeout=60)
        assert outcome.outcome is Outcome.SUCCEEDED
        bus.send(identity, Ack(job_id="job-c", attempt=2))
        bus.commands_during(0.5)  # what the worker published by now has arrived
        assert {(event.job_id, event.attempt) for event in bus.events} == {("job-c", 2)}, "a canceled attempt rendered"


@pytest.mark.parametrize(
    "answer",
    [
        Heartbeat(protocol_version=99),
        Incompatible(reason="this broker speaks protocol 99", protocol_version=99),
    ],
    ids=["heartbeat", "incompatible"],
)
def test_a_broker_of_another_protocol_version_makes_the_worker_exit_with_exit_incompatible(bus, tmp_path, answer):
    with real_worker(bus, tmp_path) as (worker, log):
        identity, _ = bus.receive(Ready)
        for _ in range(3):  # one clear message however many frames it gets
            bus.send(identity, answer)
        assert worker.wait(timeout=15) == EXIT_INCOMPATIBLE
    errors = [line["message"] for line in log_lines(log) if line["level"] == "ERROR"]
    assert errors == [
        (f"the broker speaks bus protocol 99, this worker speaks {PROTOCOL_VERSION}; run the same slidereel version on both")
    ]


def test_the_pool_keeps_worker_ids_across_restarts_and_stops_on_an_incompatible_broker(bus, tmp_path):
    pool = Stack(
        data_dir=tmp_path,
        command_port=bus.command_port,
        event_port=bus.event_port,
        workers=2,
        extra_env={"RENDER_WORKER_PREFIX": "pool-a"},
        capture_logs=True,
    )
    pool.start_renderer()
    try:
        ready = set()
        while len(ready) < 2:  # each worker says Ready at once, and again once it has listed its voices
            ready.add(bus.receive(Ready, timeout=30)[1].worker_id)
        assert ready == {"pool-a-w0", "pool-a-w1"}
        killed = pool.worker_pids()["pool-a-w0"]
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pool.worker_pids().get("pool-a-w0") in (killed, None):
            assert time.monotonic() < deadline, "the killed worker's slot was not restarted under its id"
            time.sleep(0.1)

        deadline = time.monotonic() + 30
        while pool.renderer.poll() is None:
            assert time.monotonic() < deadline, "the pool kept running against an incompatible broker"
            # Whoever speaks, restarted or not, hears that this broker is of another version.
            with contextlib.suppress(TimeoutError):
                identity, _ = bus.receive(Message, timeout=0.2)
                bus.send(identity, Incompatible(reason="protocol 99", protocol_version=99))
        assert pool.renderer.returncode == EXIT_INCOMPATIBLE
    finally:
        pool.stop()
    lines = log_lines(pool.log_path("renderer"))
    supervisor = [line["message"] for line in lines if line.get("service") == "renderer-supervisor" and line["level"] != "INFO"]
    assert len(supervisor) == 2, supervisor
    assert supervisor[0].startswith("worker pool-a-w0 exited with -9; restarting")
    assert "speaks another bus protocol than the broker; stopping every worker" in supervisor[1]


def test_real_api_dispatches_to_a_protocol_peer_and_applies_its_outcome(tmp_path, reference_script):
    stack = Stack(data_dir=tmp_path)
    stack.start_api()
    context = zmq.Context()
    try:
        stack.wait_alive()
        with stack.client(timeout=10) as http:
            video_id = new_video_id("peer")
            script_id = approved_script(http, video_id, reference_script)
            job_id = http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": script_id}).json()["job_id"]

            dealer, pub = context.socket(zmq.DEALER), context.socket(zmq.PUB)
            dealer.setsockopt(zmq.IDENTITY, b"peer-w0")
            dealer.connect(f"tcp://127.0.0.1:{stack.command_port}")
            pub.connect(f"tcp://127.0.0.1:{stack.event_port}")
            codec = renderer_codec()
            dealer.send(api_command_codec().encode(Ready(worker_id="peer-w0", engines=["espeak"])))
            _, render = receive(dealer, codec.decode, want=Render)
            assert render.job_id == job_id and render.attempt == 1 and render.video_id == video_id
            assert render.output.storage_key == f"{video_id}/{job_id}" and len(render.script.scenes) == 12
            assert http.get("/readyz").status_code == 200

            time.sleep(0.3)  # PUB/SUB slow joiner: the first events after connect may be dropped
            for seq, value in ((1, 10), (2, 40)):
                pub.send(
                    progress_codec().encode(
                        Progress(
                            job_id=job_id,
                            video_id=video_id,
                            attempt=1,
                            seq=seq,
                            step=Step.GENERATE_TTS,
                            progress=value,
                            ts=time.time(),
                        )
                    )
                )
            deadline = time.monotonic() + 5
            while http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()["progress"] != 40:
                assert time.monotonic() < deadline, "progress was not applied"
                time.sleep(0.05)

            outcome = JobFinished(job_id=job_id, attempt=1, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=3.0))
            dealer.send(api_command_codec().encode(outcome))
            _, ack = receive(dealer, codec.decode, want=Ack)
            assert (ack.job_id, ack.attempt) == (job_id, 1)
            job = http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()
            assert job["status"] == "SUCCEEDED" and job["assets"]["duration_sec"] == 3.0

            http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": script_id})
            _, second = receive(dealer, codec.decode, want=Render)
            http.post(f"/api/v2/videos/{video_id}/render-jobs/{second.job_id}/cancel")
            _, cancel = receive(dealer, codec.decode, want=Cancel)
            assert (cancel.job_id, cancel.attempt) == (second.job_id, second.attempt), "a Cancel names its attempt"
    finally:
        context.destroy(linger=0)
        stack.stop()


def test_a_worker_lists_its_voices_in_a_ready_and_says_ready_to_each_new_broker(bus, tmp_path):
    """Heartbeats carry no voices. A broker that took over (or restarted) adopts a worker from its
    heartbeats; the worker, hearing a new broker incarnation, says Ready to it with its voices."""
    with real_worker(bus, tmp_path):
        identity, ready = bus.receive(Ready, where=lambda ready: bool(ready.voices), timeout=30)
        assert {"espeak#ko", "espeak#en-US"} <= {voice.voice for voice in ready.voices}
        for _ in range(2):
            bus.send(identity, Heartbeat(incarnation="broker-1"))
        with pytest.raises(TimeoutError):
            bus.receive(Ready, timeout=2)  # the broker it said Ready to: nothing new to say
        bus.send(identity, Heartbeat(incarnation="broker-2"))
        _, again = bus.receive(Ready, timeout=5)
        assert again.voices == ready.voices
