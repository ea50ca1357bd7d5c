"""`GET /metrics` on the real stack: open like /healthz, parsed with prometheus_client's own
parser, and the job, step, worker, WebSocket and bus metrics move when real things happen."""

import time
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from libs.contracts.codes import Step
from tests.client import approved_script, new_video_id, scrape, start_render, value, wait_terminal
from tests.stack import Stack

SCRIPT = {"title": "지표", "language": "ko", "scenes": [{"narration": "지표 시험입니다.", "slide": {"title": "지표"}}]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with Stack(data_dir=tmp_path_factory.mktemp("metrics"), workers=2).running() as running:
        yield running


def test_a_render_moves_the_job_step_and_bus_metrics(stack):
    before = scrape(stack)
    with stack.client(timeout=30) as http:
        video_id = new_video_id("metrics")
        job = start_render(http, video_id, approved_script(http, video_id, SCRIPT))
        assert wait_terminal(http, video_id, job["job_id"])["status"] == "SUCCEEDED"
    after = scrape(stack)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("slidereel_jobs", status="SUCCEEDED") == 1
    assert value(after, "slidereel_queue_depth") == 0 and value(after, "slidereel_renders_in_flight") == 0
    assert moved("slidereel_render_duration_seconds_count", status="SUCCEEDED") == 1
    assert moved("slidereel_render_duration_seconds_sum", status="SUCCEEDED") > 0
    for step in Step:
        assert moved("slidereel_render_step_duration_seconds_count", step=step.value) == 1, step
    assert moved("slidereel_bus_messages_total", direction="out", type="render") == 1
    assert moved("slidereel_bus_messages_total", direction="in", type="jobfinished") >= 1
    assert moved("slidereel_bus_messages_total", direction="in", type="progress") >= len(Step)
    # A one-scene render can end between two heartbeats: wait for the next one (1 s apart).
    deadline = time.monotonic() + 5
    while value(scrape(stack), "slidereel_bus_messages_total", direction="in", type="heartbeat") == 0:
        assert time.monotonic() < deadline, "no worker heartbeat was counted"
        time.sleep(0.1)
    assert value(after, "slidereel_renderer_workers_alive") == 2
    # Requests are counted per route template: no ids in label values.
    route = "/api/v2/videos/{video_id}/render-jobs"
    assert moved("slidereel_http_requests_total", app_name="slidereel", method="POST", path=route, status_code="202") == 1
    assert not [key for key in after if any(video_id in str(label) for label in key[1])]


def test_the_websocket_gauge_counts_open_progress_sockets(stack):
    idle = value(scrape(stack), "slidereel_websocket_clients")
    with connect(stack.progress_url(new_video_id("ws")), open_timeout=10) as socket:
        socket.recv(timeout=10)  # "connected": the handler is running
        assert value(scrape(stack), "slidereel_websocket_clients") == idle + 1
    deadline = time.monotonic() + 10
    while value(scrape(stack), "slidereel_websocket_clients") != idle:
        assert time.monotonic() < deadline, "the closed socket is still counted"
        time.sleep(0.1)


def test_queue_depth_and_jobs_by_status_without_renderers(tmp_path):
    api_only = Stack(data_dir=tmp_path)
    api_only.start_api()
    try:
        api_only.wait_alive()
        with api_only.client(timeout=30) as http:
            jobs = []
            for _ in range(2):
                video_id = new_video_id("queued")
                jobs.append((video_id, start_render(http, video_id, approved_script(http, video_id, SCRIPT))["job_id"]))
            queued = scrape(api_only)
            video_id, job_id = jobs[0]
            assert http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel").status_code == 200
            after_cancel = scrape(api_only)
    finally:
        api_only.stop()
    assert value(queued, "slidereel_queue_depth") == 2 and value(queued, "slidereel_jobs", status="PENDING") == 2
    assert value(queued, "slidereel_renderer_workers_alive") == 0
    assert value(after_cancel, "slidereel_queue_depth") == 1
    assert value(after_cancel, "slidereel_jobs", status="CANCELED") == 1
