"""Cancel really stops the render: inside TTS and inside the video encode the worker stops
within 5 s, removes its temporary files, and the job stays CANCELED."""

import pytest

from tests.client import job, wait_for, wait_running, wait_terminal
from tests.faults.jobs import script_of, submit
from tests.faults.test_renderer_faults import SMALL_FRAMES, parse

LONGEST = script_of(200)  # SPEC's scene limit: seconds of TTS and of encoding


@pytest.fixture
def http(fault_stack):
    with fault_stack.client(timeout=30) as client:
        yield client


@pytest.mark.parametrize("fault_stack", [{"env": SMALL_FRAMES, "workers": 1}], indirect=True)
@pytest.mark.parametrize("step", ["GENERATE_TTS", "COMPOSE_VIDEO"])
def test_cancel_stops_the_worker_within_5_s_and_removes_its_files(fault_stack, http, step):
    video_id, job_id = submit(fault_stack, http, LONGEST, "cancel")
    wait_running(http, video_id, job_id, step=step)
    canceled = http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    canceled_at = parse(canceled.json()["updated_at"])

    stopped = wait_for(
        http, video_id, job_id, lambda j: j["attempts"][0]["finished_at"], timeout=15, what="the worker to confirm it stopped"
    )
    attempt = stopped["attempts"][0]
    assert attempt["outcome"] == "CANCELED"
    assert (parse(attempt["finished_at"]) - canceled_at).total_seconds() <= 5.0
    assert stopped["status"] == "CANCELED" and stopped["assets"] is None
    staging = fault_stack.asset_dir / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == [], "temporary files left behind"
    assert not (fault_stack.asset_dir / video_id).exists()

    # The same single worker is free again and renders the next job.
    next_video, next_job = submit(fault_stack, http, script_of(2), "after-cancel")
    assert wait_terminal(http, next_video, next_job)["status"] == "SUCCEEDED"
    assert job(http, video_id, job_id)["status"] == "CANCELED"


@pytest.mark.parametrize("fault_stack", [{"env": SMALL_FRAMES, "workers": 1}], indirect=True)
def test_canceled_pending_job_never_runs(fault_stack, http):
    busy_video, busy_job = submit(fault_stack, http, script_of(40), "busy")
    wait_running(http, busy_video, busy_job)
    video_id, job_id = submit(fault_stack, http, script_of(2), "queued")
    response = http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "CANCELED"
    assert wait_terminal(http, busy_video, busy_job)["status"] == "SUCCEEDED"
    final = job(http, video_id, job_id)
    assert final["status"] == "CANCELED" and final["attempts"] == [] and final["started_at"] is None
