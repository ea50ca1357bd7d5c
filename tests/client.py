"""Small HTTP and WebSocket helpers the integration tests share."""

import json
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED"}
Samples = dict[tuple[str, frozenset], float]
T = TypeVar("T")


def new_video_id(prefix: str = "video") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def approved_script(http: httpx.Client, video_id: str, script: dict, script_id: str = "script-001") -> str:
    response = http.put(f"/api/v2/videos/{video_id}/scripts/{script_id}", json=script)
    assert response.status_code == 201, response.text
    response = http.post(f"/api/v2/videos/{video_id}/scripts/{script_id}/approve")
    assert response.status_code == 200 and response.json()["status"] == "APPROVED", response.text
    return script_id


def start_render(http: httpx.Client, video_id: str, script_id: str) -> dict:
    response = http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": script_id})
    assert response.status_code == 202, response.text
    return response.json()


def follow(stack, video_id: str, query: str = "", timeout: float = 240.0) -> list[dict]:
    """Every message of one job's progress stream until the server closes it after the end."""
    messages: list[dict] = []
    with connect(stack.progress_url(video_id, query), open_timeout=10) as socket:
        try:
            while True:
                messages.append(json.loads(socket.recv(timeout=timeout)))
        except ConnectionClosedOK:
            return messages


def job(http: httpx.Client, video_id: str, job_id: str) -> dict:
    return http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()


def wait_until(found: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """What `found` returns once it is truthy; fails after `timeout` s, saying what never came."""
    deadline = time.monotonic() + timeout
    while not (result := found()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return result


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
        http,
        video_id,
        job_id,
        lambda j: j["status"] == "RUNNING" and j["attempt"] == attempt and (step is None or j["step"] == step),
        what=f"attempt {attempt} RUNNING{' in ' + step if step else ''}",
    )


def scrape(stack) -> Samples:
    """The API's /metrics, parsed with prometheus_client's own parser."""
    response = httpx.get(f"{stack.base_url}/metrics", timeout=10)  # no token
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)
