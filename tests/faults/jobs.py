"""What the fault tests submit and how they wait, through the public API."""

import json
import time

import httpx

from tests.client import TERMINAL, approved_script, new_video_id, start_render
from tests.stack import FIXTURES, Stack

REFERENCE = json.loads((FIXTURES / "reference_script.json").read_text(encoding="utf-8"))


def script_of(scenes: int) -> dict:
    """The reference script's scenes repeated up to `scenes`: render time grows with it."""
    cycle = REFERENCE["scenes"]
    return {**REFERENCE, "scenes": [cycle[index % len(cycle)] for index in range(scenes)]}


def submit(stack: Stack, http: httpx.Client, script: dict, prefix: str = "fault") -> tuple[str, str]:
    """Creates, approves and renders a script on a fresh video; records the accepted job."""
    video_id = new_video_id(prefix)
    job_id = start_render(http, video_id, approved_script(http, video_id, script))["job_id"]
    stack.accepted.add(job_id)
    return video_id, job_id


def job(http: httpx.Client, video_id: str, job_id: str) -> dict:
    return http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()


def wait_for(http: httpx.Client, video_id: str, job_id: str, condition, timeout: float = 90, what: str = "") -> dict:
    deadline = time.monotonic() + timeout
    while True:
        current = job(http, video_id, job_id)
        if condition(current):
            return current
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}: {current}"
        time.sleep(0.05)


def wait_terminal(http: httpx.Client, video_id: str, job_id: str, timeout: float = 120) -> dict:
    return wait_for(http, video_id, job_id, lambda j: j["status"] in TERMINAL, timeout, "a terminal status")


def wait_running(http: httpx.Client, video_id: str, job_id: str, attempt: int = 1, step: str | None = None) -> dict:
    return wait_for(
        http, video_id, job_id,
        lambda j: j["status"] == "RUNNING" and j["attempt"] == attempt and (step is None or j["step"] == step),
        what=f"attempt {attempt} RUNNING{' in ' + step if step else ''}",
    )
