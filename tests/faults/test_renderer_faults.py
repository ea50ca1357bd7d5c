"""Renderer workers killed, hung, poisoned or too slow: jobs are retried on live workers,
end FAILED after exactly RENDER_MAX_ATTEMPTS attempts, and never get stuck."""

import itertools
import os
import signal
import time
from datetime import datetime

import pytest

from tests.client import job, wait_for, wait_running, wait_terminal
from tests.faults.jobs import script_of, submit

SMALL_FRAMES = {"RENDER_RESOLUTION": "640x360"}


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


@pytest.fixture
def http(fault_stack):
    with fault_stack.client(timeout=30) as client:
        yield client


def render_on_a_worker(stack, http) -> tuple[str, str, int]:
    """Starts a render and waits until it is drawing slides: (video id, job id, worker pid)."""
    video_id, job_id = submit(stack, http, script_of(36))
    running = wait_running(http, video_id, job_id, step="RENDER_SLIDES")
    return video_id, job_id, stack.worker_pids()[running["attempts"][0]["worker_id"]]


@pytest.mark.parametrize("fault_stack", [{"env": SMALL_FRAMES}], indirect=True)
def test_worker_killed_mid_render_is_detected_and_the_job_succeeds_elsewhere(fault_stack, http):
    video_id, job_id, victim = render_on_a_worker(fault_stack, http)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.time()

    retried = wait_for(http, video_id, job_id, lambda j: j["attempts"][0]["outcome"] == "FAILED", what="attempt 1 lost")
    lost = retried["attempts"][0]
    assert lost["error_code"] == "WORKER_LOST"
    assert parse(lost["finished_at"]).timestamp() - killed_at <= 3.0, "loss detected later than 3 s"

    final = wait_terminal(http, video_id, job_id)
    assert final["status"] == "SUCCEEDED" and final["attempt"] == 2
    assert final["attempts"][1]["outcome"] == "SUCCEEDED"
    replacement = fault_stack.worker_pids()
    assert len(replacement) == fault_stack.workers and victim not in replacement.values()


@pytest.mark.parametrize("fault_stack", [{"env": SMALL_FRAMES}], indirect=True)
def test_poison_job_fails_after_exactly_three_attempts_while_others_finish(fault_stack, http):
    poison_video, poison_job = submit(fault_stack, http, script_of(24), "poison")
    others = [submit(fault_stack, http, script_of(3), "bystander") for _ in range(3)]
    for attempt in (1, 2, 3):
        running = wait_running(http, poison_video, poison_job, attempt=attempt)
        worker_id = running["attempts"][-1]["worker_id"]
        os.kill(fault_stack.worker_pids()[worker_id], signal.SIGKILL)
    final = wait_terminal(http, poison_video, poison_job)
    assert final["status"] == "FAILED" and final["error_code"] == "WORKER_LOST"
    assert final["attempt"] == 3 and [a["error_code"] for a in final["attempts"]] == ["WORKER_LOST"] * 3
    for video_id, job_id in others:
        assert wait_terminal(http, video_id, job_id)["status"] == "SUCCEEDED"


@pytest.mark.parametrize("fault_stack", [{"env": SMALL_FRAMES}], indirect=True)
def test_hung_worker_is_treated_as_lost_and_replaced(fault_stack, http):
    video_id, job_id, hung = render_on_a_worker(fault_stack, http)
    os.kill(hung, signal.SIGSTOP)  # alive, but silent
    try:
        final = wait_terminal(http, video_id, job_id)
        assert final["status"] == "SUCCEEDED" and final["attempt"] == 2
        assert final["attempts"][0]["error_code"] == "WORKER_LOST"
        wait_for(
            http,
            video_id,
            job_id,
            lambda _: hung not in fault_stack.worker_pids().values(),
            timeout=20,
            what="the supervisor to replace the hung worker",
        )
    finally:
        if os.path.exists(f"/proc/{hung}"):
            os.kill(hung, signal.SIGCONT)


# No TTS cache: with one, the attempts after the first reused the first one's speech and, on an
# idle machine, could finish between two of the broker's deadline checks (1 s apart).
@pytest.mark.parametrize(
    "fault_stack",
    [{"env": {**SMALL_FRAMES, "RENDER_TIMEOUT_BASE_SEC": "0.5", "RENDER_TIMEOUT_PER_CHAR_SEC": "0", "TTS_CACHE_MAX_MB": "0"}}],
    indirect=True,
)
def test_render_past_its_deadline_times_out_and_retries_with_backoff(fault_stack, http):
    video_id, job_id = submit(fault_stack, http, script_of(48))
    final = wait_terminal(http, video_id, job_id, timeout=60)
    assert final["status"] == "FAILED" and final["error_code"] == "TIMEOUT"
    attempts = final["attempts"]
    assert [a["error_code"] for a in attempts] == ["TIMEOUT"] * 3
    gaps = [(parse(b["started_at"]) - parse(a["finished_at"])).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert 0.5 <= gaps[0] <= 2.5 and 1.0 <= gaps[1] <= 4.5, f"backoff 1 s / 2 s ±50 % expected, got {gaps}"


def test_invalid_script_fails_at_once_without_retry(fault_stack, http):
    video_id, job_id = submit(fault_stack, http, script_of(1), blank=True)
    final = wait_terminal(http, video_id, job_id)
    assert final["status"] == "FAILED" and final["error_code"] == "INVALID_SCRIPT"
    assert final["attempt"] == 1 and len(final["attempts"]) == 1
    assert job(http, video_id, job_id)["error_message"]
