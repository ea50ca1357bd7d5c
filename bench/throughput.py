"""Throughput of the renderer pool, through the real stack:

- 8 renders of the reference script with 1 and with 2 workers: jobs per minute and their ratio;
- 200 jobs queued at once (a one-scene script, 2 workers): they start in the order they were
  created, the queue drains to 0, and the API's memory stays flat while it does.

    .venv/bin/python -m bench.throughput
"""

import itertools
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from bench.cpu import CpuMeter
from bench.render import QUIET_UNCACHED, reference_script
from bench.results import Row, Target, markdown_table
from bench.stores import job_table_url, not_run_on_postgresql, stores_here
from tests.client import approved_script, new_video_id, start_render
from tests.stack import Stack

SECTION = "throughput"
BATCH_JOBS = 8
QUEUED_JOBS = 200
MIN_SCALING = 1.8
MAX_API_RSS_GROWTH_MB = 25
QUEUE_SCRIPT = {
    "title": "Queue",
    "language": "ko",
    "scenes": [{"narration": "대기열 측정용 장면입니다.", "slide": {"title": "대기열"}}],
}
BENCH_ENV = {**QUIET_UNCACHED, "RATE_LIMIT_WRITES_PER_MINUTE": "1000000"}


@dataclass(frozen=True)
class FinishedJob:
    created_at: datetime
    started_at: datetime
    finished_at: datetime
    status: str


def _moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _approved_videos(stack: Stack, script: dict, count: int) -> list[str]:
    with stack.client(timeout=60) as http:
        videos = [new_video_id("bench") for _ in range(count)]
        for video_id in videos:
            approved_script(http, video_id, script)
    return videos


def _render_all(stack: Stack, videos: list[str]) -> tuple[float, list[FinishedJob]]:
    """Creates the videos' jobs at once and waits for the last to end; returns (seconds from
    the first create to the last finish, the jobs in creation order)."""
    with stack.client(timeout=60) as http:
        started = time.perf_counter()
        jobs = [(video_id, start_render(http, video_id, "script-001")["job_id"]) for video_id in videos]
        pending = list(jobs)
        while pending:
            # Jobs end roughly in creation order: asking about the oldest unfinished one
            # first keeps the polling from loading the API being measured.
            while pending and _is_terminal(http, *pending[0]):
                pending.pop(0)
            if pending:
                time.sleep(0.25)
        seconds = time.perf_counter() - started
        return seconds, [_finished(http, *job) for job in jobs]


def _is_terminal(http: httpx.Client, video_id: str, job_id: str) -> bool:
    status = http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()["status"]
    return status in ("SUCCEEDED", "FAILED", "CANCELED")


def _finished(http: httpx.Client, video_id: str, job_id: str) -> FinishedJob:
    job = http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()
    return FinishedJob(_moment(job["created_at"]), _moment(job["started_at"]), _moment(job["finished_at"]), job["status"])


@dataclass(frozen=True)
class Batch:
    jobs_per_minute: float
    renderer_cpu_per_job: float
    api_cpu_per_job: float


def _batch(workers: int, store: str = "SQLite") -> Batch:
    with tempfile.TemporaryDirectory() as data_dir, job_table_url(store) as database_url:
        with Stack(data_dir=Path(data_dir), workers=workers, extra_env=BENCH_ENV, database_url=database_url).running() as stack:
            videos = _approved_videos(stack, reference_script(), BATCH_JOBS)
            with CpuMeter(stack.api.pid) as api, CpuMeter(stack.renderer.pid) as renderer:
                _, jobs = _render_all(stack, videos)
    failed = [job for job in jobs if job.status != "SUCCEEDED"]
    if failed:
        raise RuntimeError(f"{len(failed)} of {BATCH_JOBS} renders did not succeed")
    # From the first create to the last finish, by the API's own clock.
    span = (max(job.finished_at for job in jobs) - min(job.created_at for job in jobs)).total_seconds()
    return Batch(BATCH_JOBS / span * 60, renderer.busy_seconds / BATCH_JOBS, api.busy_seconds / BATCH_JOBS)


class _RssSampler:
    """The API process's resident memory, sampled while the queue drains."""

    def __init__(self, pid: int) -> None:
        self._status = Path(f"/proc/{pid}/status")
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "_RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for line in self._status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.samples.append(int(line.split()[1]) / 1024)


def _queue_rows() -> list[Row]:
    with tempfile.TemporaryDirectory() as data_dir:
        with Stack(data_dir=Path(data_dir), workers=2, extra_env=BENCH_ENV).running() as stack:
            videos = _approved_videos(stack, QUEUE_SCRIPT, QUEUED_JOBS)
            with _RssSampler(stack.api.pid) as rss:
                seconds, jobs = _render_all(stack, videos)
    out_of_order = sum(later.started_at < earlier.started_at for earlier, later in itertools.pairwise(jobs))
    succeeded = sum(job.status == "SUCCEEDED" for job in jobs)
    # Sampling began before the jobs were created: the first samples are the API at rest.
    growth = max(rss.samples) - rss.samples[0]
    return [
        Row(
            SECTION,
            f"{QUEUED_JOBS} queued jobs: drained (SUCCEEDED)",
            float(succeeded),
            "jobs",
            Target(">=", QUEUED_JOBS),
            note=f"in {seconds:.1f} s with 2 workers",
        ),
        Row(
            SECTION,
            f"{QUEUED_JOBS} queued jobs: started out of creation order",
            float(out_of_order),
            "jobs",
            Target("<=", 0),
            note="FIFO",
        ),
        Row(
            SECTION,
            "API RSS growth while draining",
            growth,
            "MB",
            Target("<=", MAX_API_RSS_GROWTH_MB),
            note=f"{rss.samples[0]:.0f} MB at rest, {max(rss.samples):.0f} MB peak, {rss.samples[-1]:.0f} MB at the end",
        ),
    ]


def run() -> list[Row]:
    """The batches on each job store here (the API's share of a render is the store's code), the queue on SQLite."""
    return [row for store in stores_here() for row in _scaling_rows(store)] + _queue_rows() + not_run_on_postgresql(SECTION)


def _scaling_rows(store: str) -> list[Row]:
    one, two = _batch(1, store), _batch(2, store)
    label = "" if store == "SQLite" else f" ({store})"
    return [
        *(
            Row(
                SECTION,
                f"{BATCH_JOBS} reference renders, {workers} worker{'s' * (workers > 1)}{label}",
                batch.jobs_per_minute,
                "jobs/min",
                note=f"CPU per job: renderer {batch.renderer_cpu_per_job:.2f} s, API {batch.api_cpu_per_job:.2f} s",
            )
            for workers, batch in ((1, one), (2, two))
        ),
        Row(SECTION, f"2 workers ÷ 1 worker{label}", two.jobs_per_minute / one.jobs_per_minute, "x", Target(">=", MIN_SCALING)),
    ]


def main() -> None:
    print(markdown_table(run()))


if __name__ == "__main__":
    main()
