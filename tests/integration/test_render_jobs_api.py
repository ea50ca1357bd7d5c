"""Render-job policies through the real API and renderer pool: idempotency under
concurrency, approved-only, listing, cancel, and resuming the progress stream."""

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from websockets.sync.client import connect

from tests.client import approved_script, follow, new_video_id, start_render, wait_for, wait_running, wait_terminal
from tests.stack import Stack

SHORT_SCRIPT = {
    "title": "짧은 안내",
    "language": "ko",
    "scenes": [
        {"narration": "첫 번째 장면입니다. 잠시만 기다려 주세요.", "slide": {"title": "첫 장면", "bullets": ["하나", "둘"]}},
        {"narration": "This second scene is in English.", "slide": {"title": "Second", "bullets": ["three"]}},
    ],
}


@pytest.fixture
def http(stack):
    with stack.client(timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def api_only(tmp_path_factory) -> Iterator[Stack]:
    """An API with no renderer: its jobs stay PENDING, so a job of the race below cannot
    finish (and rightly let a late POST create a second one) before all 50 POSTs are in."""
    with Stack(data_dir=tmp_path_factory.mktemp("race"), workers=0).running_api() as stack:
        yield stack


def test_fifty_concurrent_posts_create_exactly_one_job(api_only):
    stack = api_only
    video_id = new_video_id("race")
    with stack.client(timeout=30) as http:
        script_id = approved_script(http, video_id, SHORT_SCRIPT)
    together = threading.Barrier(50)

    def post(_: int) -> httpx.Response:
        with stack.client(timeout=30) as own:
            together.wait(timeout=30)
            return own.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": script_id})

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, range(50)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(202) == 1 and statuses.count(200) == 49, statuses
    assert len({response.json()["job_id"] for response in responses}) == 1
    assert [response.json()["created"] for response in responses].count(True) == 1
    with stack.client(timeout=30) as http:
        listing = http.get(f"/api/v2/videos/{video_id}/render-jobs").json()
    assert listing["total"] == 1


def test_draft_script_is_not_rendered(http):
    video_id = new_video_id("draft")
    assert http.put(f"/api/v2/videos/{video_id}/scripts/s1", json=SHORT_SCRIPT).status_code == 201
    response = http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": "s1"})
    assert response.status_code == 409
    assert response.json()["error_code"] == "SCRIPT_NOT_APPROVED"
    assert http.get(f"/api/v2/videos/{video_id}/render-jobs").json()["total"] == 0


def test_unknown_script_and_job_are_404(http):
    video_id = new_video_id("missing")
    response = http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": "nope"})
    assert response.status_code == 404 and response.json()["error_code"] == "SCRIPT_NOT_FOUND"
    response = http.get(f"/api/v2/videos/{video_id}/render-jobs/job-00000000-0000-0000-0000-000000000000")
    assert response.status_code == 404 and response.json()["error_code"] == "JOB_NOT_FOUND"


def test_finished_job_lists_filters_and_cannot_be_canceled(http):
    video_id = new_video_id("list")
    script_id = approved_script(http, video_id, SHORT_SCRIPT)
    job = wait_terminal(http, video_id, start_render(http, video_id, script_id)["job_id"])
    assert job["status"] == "SUCCEEDED", job
    second = start_render(http, video_id, script_id)
    assert second["created"] is True and second["job_id"] != job["job_id"]
    wait_terminal(http, video_id, second["job_id"])
    listing = http.get(f"/api/v2/videos/{video_id}/render-jobs", params={"limit": 1}).json()
    assert listing["total"] == 2 and listing["limit"] == 1 and listing["jobs"][0]["job_id"] == second["job_id"]
    assert http.get(f"/api/v2/videos/{video_id}/render-jobs", params={"status": "FAILED"}).json()["total"] == 0
    published = http.get(f"/api/v2/videos/{video_id}/assets/published").json()
    assert published["job_id"] == second["job_id"], "a newer success must replace the published set"
    response = http.post(f"/api/v2/videos/{video_id}/render-jobs/{job['job_id']}/cancel")
    assert response.status_code == 409 and response.json()["error_code"] == "JOB_NOT_CANCELABLE"


def test_cancel_running_job_stops_it_and_publishes_nothing(stack, http, reference_script):
    video_id = new_video_id("cancel")
    script_id = approved_script(http, video_id, reference_script)
    job_id = start_render(http, video_id, script_id)["job_id"]
    wait_running(http, video_id, job_id)
    response = http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "CANCELED"
    again = http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "CANCELED"
    # The worker's own word on the attempt closes its record: whatever it reported (stopped, or
    # a success that came too late) has been applied by now, and must not have overwritten CANCELED.
    stopped = wait_for(
        http,
        video_id,
        job_id,
        lambda j: j["attempts"][-1]["finished_at"] is not None,
        what="the worker to report how the canceled attempt ended",
    )
    assert stopped["status"] == "CANCELED" and stopped["attempts"][-1]["outcome"] == "CANCELED"
    assert http.get(f"/api/v2/videos/{video_id}/assets/published").json() == {"video_id": video_id, "published": False}
    assert not (stack.asset_dir / video_id / job_id).exists()
    staging = stack.asset_dir / ".staging"
    assert not staging.exists() or not any(job_id in path.name for path in staging.iterdir())


def test_reconnect_with_last_seq_gets_every_later_event_once(stack, http):
    video_id = new_video_id("resume")
    script_id = approved_script(http, video_id, SHORT_SCRIPT)
    job_id = start_render(http, video_id, script_id)["job_id"]
    full = [m for m in follow(stack, video_id, f"?job_id={job_id}&last_seq=0") if m["type"] == "progress"]
    middle = full[len(full) // 2]["seq"]
    resumed = [m for m in follow(stack, video_id, f"?job_id={job_id}&last_seq={middle}") if m["type"] == "progress"]
    assert [m["seq"] for m in resumed] == [m["seq"] for m in full if m["seq"] > middle]
    assert resumed[-1]["status"] == "SUCCEEDED"


def test_stream_without_job_id_follows_the_running_job(stack, http, reference_script):
    video_id = new_video_id("latest")
    script_id = approved_script(http, video_id, reference_script)
    job_id = start_render(http, video_id, script_id)["job_id"]
    wait_running(http, video_id, job_id)
    with connect(stack.progress_url(video_id), open_timeout=10) as socket:
        connected = json.loads(socket.recv(timeout=10))
        snapshot = json.loads(socket.recv(timeout=10))
        live = json.loads(socket.recv(timeout=30))
    assert connected["type"] == "connected" and connected["job_id"] == job_id
    assert snapshot["type"] == "snapshot" and snapshot["status"] == "RUNNING"
    assert live["type"] == "progress" and live["job_id"] == job_id and live["seq"] > snapshot["seq"]
    http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel")


def test_unknown_job_on_websocket_is_reported_and_closed(stack):
    with connect(stack.progress_url("nobody", "?job_id=job-x"), open_timeout=10) as socket:
        message = json.loads(socket.recv(timeout=10))
    assert message == {
        "type": "error",
        "error_code": "JOB_NOT_FOUND",
        "message": "Job 'job-x' of video 'nobody' does not exist.",
        "detail": {"video_id": "nobody", "job_id": "job-x"},
    }
