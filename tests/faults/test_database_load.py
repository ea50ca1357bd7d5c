"""SQLite under load (research/reliability.md §6, goal 5): eight renderer peers stream progress
while clients send 50 requests/s. No request sees "database is locked" or a 5xx, and no state
change is lost: progress writes may be coalesced, step changes and terminal states never."""

import os
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import text

from libs.contracts.codes import Step
from tests.client import approved_script, new_video_id, start_render
from tests.faults.conftest import FaultStack
from tests.faults.fake_renderer import FakeRenderer
from tests.faults.invariants import active_jobs
from tests.integration.test_render_jobs_api import SHORT_SCRIPT

LOAD_SECONDS = float(os.environ.get("FAULT_LOAD_SECONDS", "60"))
REQUESTS_PER_SEC = 50
CLIENTS = 5
REQUESTS_PER_VIDEO = 8
RENDERERS = 8
EVENTS_PER_STEP = 4
EVENTS_PER_SEC = 40
DRAIN_TIMEOUT_SEC = 120


class PacedClient(httpx.Client):
    """Starts its requests on a fixed schedule (catching up when late) and times each one."""

    def __init__(self, base_url: str, token: str, per_sec: float) -> None:
        super().__init__(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {token}"})
        self._interval = 1.0 / per_sec
        self._next_at = time.monotonic()
        self.latencies: list[float] = []

    def request(self, *args, **kwargs) -> httpx.Response:
        time.sleep(max(0.0, self._next_at - time.monotonic()))
        self._next_at += self._interval
        started = time.perf_counter()
        try:
            return super().request(*args, **kwargs)
        finally:
            self.latencies.append(time.perf_counter() - started)


def render_a_new_video(http: httpx.Client, previous: tuple[str, str] | None) -> tuple[str, str]:
    """Eight requests: a fresh approved script and its job, the same POST again while the job
    is active, reads of the job and its list, and of the previous video's job."""
    video_id = new_video_id("load")
    script_id = approved_script(http, video_id, SHORT_SCRIPT)
    job_id = start_render(http, video_id, script_id)["job_id"]
    again = http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": script_id})
    assert again.status_code == 200 and again.json()["job_id"] == job_id, again.text
    for read_video, read_job in ((video_id, job_id), previous or (video_id, job_id)):
        detail = http.get(f"/api/v2/videos/{read_video}/render-jobs/{read_job}")
        assert detail.status_code == 200, detail.text
        listing = http.get(f"/api/v2/videos/{read_video}/render-jobs")
        assert listing.status_code == 200 and listing.json()["total"] == 1, listing.text
    return video_id, job_id


def client_load(base_url: str, token: str, requests: int, deadline: float) -> tuple[list[str], list[float]]:
    """One client's share of the load: (job ids it created, request latencies)."""
    jobs: list[str] = []
    previous = None
    with PacedClient(base_url, token, REQUESTS_PER_SEC / CLIENTS) as http:
        for _ in range(requests // REQUESTS_PER_VIDEO):
            if time.monotonic() > deadline:
                break
            previous = render_a_new_video(http, previous)
            jobs.append(previous[1])
    return jobs, http.latencies


def wait_drained(stack: FaultStack, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while active_jobs(stack):
        assert time.monotonic() < deadline, "the job queue did not drain"
        time.sleep(0.5)


@dataclass
class Stored:
    jobs: dict[str, tuple[str, int]] = field(default_factory=dict)
    """job -> (status, attempt)"""
    steps: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    """job -> the steps named by its events"""
    last_status: dict[str, str] = field(default_factory=dict)
    """job -> the status of its last event"""
    progress_events: int = 0


def stored(stack: FaultStack) -> Stored:
    found = Stored()
    with stack.job_table() as db:
        found.jobs = {
            job_id: (status, attempt)
            for job_id, status, attempt in db.execute(text("SELECT job_id, status, attempt FROM render_jobs"))
        }
        for job_id, status, step in db.execute(text("SELECT job_id, status, step FROM job_events ORDER BY job_id, seq")):
            found.last_status[job_id] = status
            if step is not None:
                found.steps[job_id].add(step)
                found.progress_events += status == "RUNNING"
    return found


@pytest.mark.parametrize("fault_stack", [{"renderer": False, "env": {"RATE_LIMIT_WRITES_PER_MINUTE": "100000"}}], indirect=True)
def test_progress_and_requests_under_load_lose_no_state_change_and_never_lock(fault_stack, capfd):
    renderers = [
        FakeRenderer(fault_stack, f"load-w{index}", events_per_step=EVENTS_PER_STEP, events_per_sec=EVENTS_PER_SEC)
        for index in range(RENDERERS)
    ]
    for renderer in renderers:
        renderer.start()

    started = time.monotonic()
    share = int(REQUESTS_PER_SEC * LOAD_SECONDS / CLIENTS)
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [
            future.result()
            for future in [
                pool.submit(client_load, fault_stack.base_url, fault_stack.token(), share, started + 2 * LOAD_SECONDS)
                for _ in range(CLIENTS)
            ]
        ]
    load_sec = time.monotonic() - started
    accepted = {job_id for jobs, _ in results for job_id in jobs}
    fault_stack.accepted |= accepted
    wait_drained(fault_stack, DRAIN_TIMEOUT_SEC)
    busy_sec = time.monotonic() - started
    for renderer in renderers:
        renderer.stop()
    for renderer in renderers:
        renderer.join(timeout=10)
        assert not renderer.is_alive(), f"{renderer.identity} never got its last outcome acknowledged"

    database = stored(fault_stack)
    latencies = sorted(latency for _, client_latencies in results for latency in client_latencies)
    sent_progress = sum(renderer.progress_sent for renderer in renderers)
    with capfd.disabled():
        print(
            f"\n{len(latencies)} requests in {load_sec:.1f} s = {len(latencies) / load_sec:.1f} req/s, "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {latencies[int(0.99 * (len(latencies) - 1))] * 1000:.0f} ms; "
            f"{len(accepted)} jobs; {sent_progress} progress events in {busy_sec:.1f} s = {sent_progress / busy_sec:.1f}/s, "
            f"{database.progress_events} stored after coalescing; {sum(r.outcomes_resent for r in renderers)} outcomes resent"
        )

    api_output = "".join(capfd.readouterr())
    assert "database is locked" not in api_output.lower()
    assert database.jobs.keys() == accepted
    assert {job_id: status for job_id, (status, _) in database.jobs.items() if status != "SUCCEEDED"} == {}
    assert {job_id: attempt for job_id, (_, attempt) in database.jobs.items() if attempt != 1} == {}, (
        "an attempt was lost under load"
    )
    assert {job_id: status for job_id, status in database.last_status.items() if status != "SUCCEEDED"} == {}
    sent_steps: dict[str, set[str]] = {}
    for renderer in renderers:
        sent_steps |= {job_id: {step.value for step in steps} for job_id, steps in renderer.sent_steps.items()}
    assert sent_steps.keys() == accepted and all(steps == {step.value for step in Step} for steps in sent_steps.values())
    lost = {
        job_id: sorted(steps - database.steps[job_id]) for job_id, steps in sent_steps.items() if steps != database.steps[job_id]
    }
    assert not lost, f"step changes lost in {len(lost)} of {len(accepted)} jobs: {lost}"
