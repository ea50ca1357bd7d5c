"""The S3 store fails while a render uploads its files: frozen (SIGSTOP: it accepts connections
and never answers, as a hung or overloaded store does) or down (stopped, then started again).
The attempt fails STORAGE_FAILED, nothing of it is published, /readyz says the store is out, and
the job is retried with backoff and succeeds once the store is back — with one complete set."""

import os
import signal

import av
import httpx
import pytest

from tests.client import approved_script, new_video_id, start_render, wait_for, wait_terminal
from tests.faults.conftest import FAULT_BUCKET
from tests.integration.test_render_jobs_api import SHORT_SCRIPT

STORE_TIMEOUT_SEC = 3
ENV = {
    "S3_TIMEOUT_SEC": str(STORE_TIMEOUT_SEC),
    # The store may still be coming back when the first retry publishes: room for one more.
    "RENDER_MAX_ATTEMPTS": "5",
}


@pytest.mark.parametrize("fault_stack", [{"s3": True, "env": ENV}], indirect=True)
@pytest.mark.parametrize("fault", ["frozen", "down"])
def test_a_render_whose_store_fails_mid_upload_is_retried_and_published_once(fault_s3_server, fault_stack, fault, tmp_path):
    server = fault_s3_server
    video_id = new_video_id(f"store-{fault}")
    with fault_stack.client(timeout=60) as http:
        script_id = approved_script(http, video_id, SHORT_SCRIPT)
        # Before the job starts: a render touches the store only when it publishes, at its end.
        if fault == "frozen":
            os.kill(server.process.pid, signal.SIGSTOP)
        else:
            server.stop()
        try:
            job_id = start_render(http, video_id, script_id)["job_id"]
            fault_stack.accepted.add(job_id)
            failed = wait_for(
                http,
                video_id,
                job_id,
                lambda job: job["attempts"] and job["attempts"][0]["outcome"],
                timeout=240,
                what="the first attempt's end",
            )
            ready = http.get("/readyz")
            assert ready.status_code == 503 and ready.json()["store"] is False, ready.text
        finally:
            if fault == "frozen":
                os.kill(server.process.pid, signal.SIGCONT)
            elif server.process.poll() is not None:
                server.start()
                server.create_bucket(FAULT_BUCKET)
        finished = wait_terminal(http, video_id, job_id, timeout=240)
        metrics = http.get("/metrics").text

        first = failed["attempts"][0]
        assert (first["outcome"], first["error_code"]) == ("FAILED", "STORAGE_FAILED"), first
        assert finished["status"] == "SUCCEEDED", finished
        outcomes = [attempt["outcome"] for attempt in finished["attempts"]]
        assert outcomes.count("SUCCEEDED") == 1 and outcomes[-1] == "SUCCEEDED", finished["attempts"]
        assert all(attempt["error_code"] == "STORAGE_FAILED" for attempt in finished["attempts"][:-1]), finished["attempts"]
        assert 'slidereel_store_operations_total{operation="check",result="error"}' in metrics

        video = httpx.get(finished["assets"]["video_url"], timeout=60)
    assert video.status_code == 200
    path = tmp_path / "video.mp4"
    path.write_bytes(video.content)
    with av.open(str(path)) as container:
        assert abs(float(container.duration / av.time_base) - finished["assets"]["duration_sec"]) <= 0.1
