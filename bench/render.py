"""End-to-end render of the reference script through the real stack (API, bus, one renderer
worker): wall time from POST to the terminal WebSocket event, real-time factor, the worker's
peak memory, the time of each step, and the output's quality checks.

    .venv/bin/python -m bench.render [--runs 3]
"""

import dataclasses
import json
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.results import Row, Target, print_runs
from bench.stores import job_table_url, not_run_on_postgresql, stores_here
from libs.contracts.codes import Step
from services.renderer.aac import AUDIO_BIT_RATE
from services.renderer.compose import X264_PRESET
from tests.client import approved_script, follow, new_video_id, start_render
from tests.media import audio_video_durations, cues, picture_change_times, scene_starts
from tests.stack import FIXTURES, Stack

SECTION = "render"
MIN_REAL_TIME_FACTOR = 130
MAX_WORKER_RSS_MB = 300
MAX_AV_MISMATCH_MS = 50
SCENE_CHANGE_TOLERANCE_SEC = 0.050
QUIET_UNCACHED = {"LOG_LEVEL": "WARNING", "TTS_CACHE_MAX_MB": "0"}
"""Every run synthesizes its narration (the TTS cache would answer runs after the first), and
the processes' INFO lines stay out of the results."""


@dataclass(frozen=True)
class RenderRun:
    wall_sec: float
    video_sec: float
    audio_sec: float
    step_sec: dict[str, float]
    folder: Path

    @property
    def real_time_factor(self) -> float:
        return self.video_sec / self.wall_sec


def reference_script() -> dict:
    return json.loads((FIXTURES / "reference_script.json").read_text(encoding="utf-8"))


def run(runs: int = 3) -> list[Row]:
    """Every row on SQLite; the end-to-end rows again with the job table on PostgreSQL, where its
    server is installed (the API's side of a render is the same code on another store)."""
    script = reference_script()
    rows = _measure(script, runs, "SQLite")
    if "PostgreSQL" in stores_here():
        rows += [
            dataclasses.replace(row, metric=f"{row.metric} (PostgreSQL)") for row in _measure(script, runs, "PostgreSQL")[:3]
        ]
    return rows + not_run_on_postgresql(SECTION)


def _measure(script: dict, runs: int, store: str) -> list[Row]:
    """`runs` renders on a fresh stack with one worker, and their rows (read from its files
    while they are there)."""
    with tempfile.TemporaryDirectory() as data_dir, job_table_url(store) as database_url:
        with Stack(data_dir=Path(data_dir), workers=1, extra_env=QUIET_UNCACHED, database_url=database_url).running() as stack:
            (worker_pid,) = stack.worker_pids().values()
            measured = [_render_once(stack, script) for _ in range(runs)]
            peak_rss_mb = _peak_rss_mb(worker_pid)
        median = sorted(measured, key=lambda one: one.wall_sec)[len(measured) // 2]
        return _rows(measured, median, peak_rss_mb, script)


def render_and_follow(
    stack: Stack, script: dict, video_id: str | None = None, script_id: str = "script-001"
) -> tuple[float, list[dict], str, str]:
    """One render of `script` (of a new video, unless given one that holds its images, then as
    a script id it does not have yet): (wall seconds POST → terminal event, its events, video
    id, job id)."""
    with stack.client(timeout=60) as http:
        video_id = video_id or new_video_id("bench")
        script_id = approved_script(http, video_id, script, script_id)
        started = time.perf_counter()
        job_id = start_render(http, video_id, script_id)["job_id"]
        events = follow(stack, video_id, f"?job_id={job_id}&last_seq=0")
        wall = time.perf_counter() - started
    if events[-1]["status"] != "SUCCEEDED":
        raise RuntimeError(f"the reference render did not succeed: {events[-1]}")
    return wall, events, video_id, job_id


def _render_once(stack: Stack, script: dict) -> RenderRun:
    wall, events, video_id, job_id = render_and_follow(stack, script)
    folder = stack.asset_dir / video_id / job_id
    audio, video = audio_video_durations(folder / "video.mp4")
    return RenderRun(wall, video, audio, step_seconds(events), folder)


def step_seconds(events: list[dict]) -> dict[str, float]:
    """Seconds from each step's first progress event to the next step's (the last step ends
    with the terminal event)."""
    firsts: dict[str, datetime] = {}
    for event in events:
        if event.get("type") == "progress" and event.get("step") and event["step"] not in firsts:
            firsts[event["step"]] = _moment(event["timestamp"])
    end = _moment(events[-1]["timestamp"])
    ordered = [step.value for step in Step if step.value in firsts]
    bounds = [firsts[step] for step in ordered[1:]] + [end]
    return {step: (bound - firsts[step]).total_seconds() for step, bound in zip(ordered, bounds)}


def _moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def _scene_changes_found(run: RenderRun, script: dict) -> tuple[int, int]:
    """(picture changes within 50 ms of a scene boundary, scene boundaries)."""
    srt = (run.folder / "subtitles.srt").read_text(encoding="utf-8")
    boundaries = scene_starts(cues(srt), [scene["narration"] for scene in script["scenes"]])[1:]
    changes = picture_change_times(run.folder / "video.mp4")
    found = sum(any(abs(change - boundary) <= SCENE_CHANGE_TOLERANCE_SEC for change in changes) for boundary in boundaries)
    return found, len(boundaries)


def _rows(measured: list[RenderRun], median: RenderRun, peak_rss_mb: float, script: dict) -> list[Row]:
    walls = ", ".join(f"{one.wall_sec:.2f}" for one in measured)
    mismatch_ms = max(abs(one.video_sec - one.audio_sec) for one in measured) * 1000
    found, boundaries = _scene_changes_found(median, script)
    rows = [
        Row(SECTION, "end-to-end wall, POST → SUCCEEDED (median)", median.wall_sec, "s", note=f"runs: {walls} s"),
        Row(SECTION, "video duration", median.video_sec, "s"),
        Row(SECTION, "real-time factor (video s ÷ wall s)", median.real_time_factor, "x", Target(">=", MIN_REAL_TIME_FACTOR)),
        Row(SECTION, "worker peak RSS (VmHWM)", peak_rss_mb, "MB", Target("<=", MAX_WORKER_RSS_MB)),
        Row(SECTION, "A/V duration mismatch (worst run)", mismatch_ms, "ms", Target("<=", MAX_AV_MISMATCH_MS)),
        Row(SECTION, "picture changes on scene boundaries (±50 ms)", float(found), f"of {boundaries}", Target(">=", boundaries)),
        Row(
            SECTION,
            "encoding",
            f"H.264 CRF 23 preset {X264_PRESET}, AAC {AUDIO_BIT_RATE // 1000} kb/s",
            note="1920x1080, variable frame rate",
        ),
    ]
    rows += [Row(SECTION, f"step {step}", seconds, "s") for step, seconds in median.step_sec.items()]
    return rows


if __name__ == "__main__":
    print_runs(run, __doc__)
