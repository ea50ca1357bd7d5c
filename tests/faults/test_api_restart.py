"""SIGKILL the API while jobs are RUNNING and PENDING, start it again: renderers re-attach
what they are rendering, the queue drains, and nothing runs twice or publishes twice."""

import itertools
import time

import pytest

from tests.client import job, wait_terminal
from tests.faults.jobs import script_of, submit
from tests.faults.test_renderer_faults import SMALL_FRAMES, parse


@pytest.mark.parametrize("fault_stack", [{"env": SMALL_FRAMES}], indirect=True)
def test_api_killed_mid_render_loses_nothing_and_runs_nothing_twice(fault_stack):
    with fault_stack.client(timeout=30) as http:
        submitted = [submit(fault_stack, http, script_of(30), "restart") for _ in range(5)]
        deadline = time.monotonic() + 60
        while True:
            statuses = {job_id: job(http, video_id, job_id)["status"] for video_id, job_id in submitted}
            if list(statuses.values()).count("RUNNING") == fault_stack.workers:
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.05)
    running_at_crash = {job_id for job_id, status in statuses.items() if status == "RUNNING"}

    fault_stack.kill_api()
    time.sleep(2)  # renderers keep rendering; their heartbeats and outcomes find no one
    fault_stack.start_api()
    fault_stack.wait_alive()

    with fault_stack.client(timeout=30) as http:
        finals = {job_id: wait_terminal(http, video_id, job_id, timeout=180) for video_id, job_id in submitted}
    for job_id, final in finals.items():
        assert final["status"] == "SUCCEEDED", final
        attempts = final["attempts"]
        for earlier, later in itertools.pairwise(attempts):
            assert parse(later["started_at"]) >= parse(earlier["finished_at"]), f"{job_id} ran twice at once"
    rerun = {job_id: finals[job_id]["attempts"] for job_id in running_at_crash if finals[job_id]["attempt"] != 1}
    assert not rerun, f"renders in progress during the crash were re-run instead of re-attached: {rerun}"
    for video_id, job_id in submitted:
        published = sorted(path.name for path in (fault_stack.asset_dir / video_id).iterdir())
        assert published == [job_id], f"assets of {video_id} published {published}"
