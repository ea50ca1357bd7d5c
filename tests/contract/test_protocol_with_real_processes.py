"""Each side of the bus against the real other side: a real worker process against a ROUTER
and SUB owned by the test, and the real API broker against a DEALER and PUB owned by the test."""

import subprocess
import sys
import time

import pytest
import zmq

from libs.contracts.bus import (
    Ack, Cancel, Heartbeat, JobFinished, Outcome, OutputSpec, Progress, Ready, Render, RenderedAssets,
    api_command_codec, progress_codec, renderer_codec,
)
from libs.contracts.codes import Step
from libs.contracts.script import Scene, Slide, Script
from tests.client import approved_script, new_video_id
from tests.stack import ROOT, Stack, free_port

TINY = Script(title="t", language="en", scenes=[Scene(narration="One short sentence. And one more.", slide=Slide(title="Hello"))])


@pytest.fixture
def bus():
    """A ROUTER and a SUB bound on free ports, as the API would bind them."""
    context = zmq.Context()
    router, sub = context.socket(zmq.ROUTER), context.socket(zmq.SUB)
    command_port, event_port = free_port(), free_port()
    router.bind(f"tcp://127.0.0.1:{command_port}")
    sub.bind(f"tcp://127.0.0.1:{event_port}")
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    yield router, sub, command_port, event_port
    context.destroy(linger=0)


def receive(socket: zmq.Socket, decode, timeout: float = 10.0, want: type | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if socket.poll(int(max(0.0, deadline - time.monotonic()) * 1000)):
            frames = socket.recv_multipart()
            message = decode(frames[-1])
            if want is None or isinstance(message, want):
                return frames[0], message
    raise TimeoutError(f"no {want.__name__ if want else 'message'} within {timeout} s")


def test_real_worker_renders_reports_progress_and_resends_until_acked(bus, tmp_path):
    router, sub, command_port, event_port = bus
    commands, progress = api_command_codec(), progress_codec()
    env = {
        "PYTHONPATH": str(ROOT), "ASSET_DIR": str(tmp_path / "assets"),
        "RENDER_COMMAND_ENDPOINT": f"tcp://127.0.0.1:{command_port}", "RENDER_EVENT_ENDPOINT": f"tcp://127.0.0.1:{event_port}",
    }
    worker = subprocess.Popen([sys.executable, "-m", "services.renderer.worker", "--worker-id", "contract-w0"], env=env)
    try:
        identity, ready = receive(router, commands.decode, want=Ready)
        assert identity == b"contract-w0" and ready.worker_id == "contract-w0"
        assert ready.engines == ["espeak"]  # coqui cannot run without COQUI_MODEL_DIR, so it is not offered
        _, heartbeat = receive(router, commands.decode, want=Heartbeat, timeout=3)
        assert heartbeat.running_job is None

        render = Render(job_id="job-c1", video_id="vid", attempt=1, script=TINY,
                        output=OutputSpec(width=640, height=360, storage_key="vid/job-c1"))
        router.send_multipart([identity, renderer_codec().encode(render)])
        _, event = receive(sub, progress.decode, want=Progress, timeout=30)
        assert event.job_id == "job-c1" and event.attempt == 1 and isinstance(event.step, Step)
        _, finished = receive(router, commands.decode, want=JobFinished, timeout=60)
        assert finished.outcome is Outcome.SUCCEEDED and finished.assets.duration_sec > 1
        assert (tmp_path / "assets" / "vid" / "job-c1" / finished.assets.video).is_file()

        _, resent = receive(router, commands.decode, want=JobFinished, timeout=3)
        assert resent == finished, "an unacknowledged outcome must be resent"
        router.send_multipart([identity, renderer_codec().encode(Ack(job_id="job-c1", attempt=1))])
        time.sleep(0.3)
        while router.poll(0):
            router.recv_multipart()
        with pytest.raises(TimeoutError):
            receive(router, commands.decode, want=JobFinished, timeout=2.5)
    finally:
        worker.terminate()
        worker.wait(timeout=10)


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
                pub.send(progress_codec().encode(Progress(
                    job_id=job_id, video_id=video_id, attempt=1, seq=seq, step=Step.GENERATE_TTS, progress=value, ts=time.time())))
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
            assert cancel.job_id == second.job_id
    finally:
        context.destroy(linger=0)
        stack.stop()
