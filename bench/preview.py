"""Scene previews (issue 27): the latency of `POST …/scripts/{script_id}/preview` through the real
API, bus and an idle renderer pool, for one scene of the reference script (a DRAFT, espeak,
1920×1080, the TTS cache off so every preview speaks its scene), one preview after another.

    .venv/bin/python -m bench.preview [--previews 20]
"""

import statistics
import tempfile
import time
from pathlib import Path

from bench.render import QUIET_UNCACHED, reference_script
from bench.results import Row, Target, print_runs
from services.renderer.text import split_sentences
from tests.client import new_video_id
from tests.stack import Stack

SECTION = "preview"
PREVIEWS = 20
SCENE = 1
"""The reference script's second scene: two sentences, about 16 s of speech."""
MAX_MEDIAN_MS = 1500
BENCH_ENV = {**QUIET_UNCACHED, "RATE_LIMIT_WRITES_PER_MINUTE": "1000000"}


def run(previews: int = PREVIEWS) -> list[Row]:
    script = reference_script()
    narration = script["scenes"][SCENE]["narration"]
    # SQLite: the job table plays no part in a preview.
    with tempfile.TemporaryDirectory() as data_dir:
        with Stack(data_dir=Path(data_dir), extra_env=BENCH_ENV, database_url=None).running() as stack:
            taken_ms = _time_previews(stack, script, previews + stack.workers)
    first_ms, taken_ms = taken_ms[: stack.workers], taken_ms[stack.workers :]
    note = (
        f"{previews} previews one after another of scene {SCENE} ({len(split_sentences(narration))} sentences, "
        f"{len(narration)} characters), {stack.workers} idle workers; after one untimed preview per worker "
        "(its first voice and fonts)"
    )
    return [
        Row(SECTION, "scene preview p50, idle workers", statistics.median(taken_ms), "ms", Target("<=", MAX_MEDIAN_MS), note),
        Row(SECTION, "scene preview max, idle workers", max(taken_ms), "ms"),
        Row(SECTION, "first scene preview of a worker, slowest", max(first_ms), "ms", note="not in the rows above"),
    ]


def _time_previews(stack: Stack, script: dict, count: int) -> list[float]:
    """Milliseconds from each request to its whole answer."""
    video_id = new_video_id("bench-preview")
    taken = []
    with stack.client(timeout=60) as http:
        response = http.put(f"/api/v2/videos/{video_id}/scripts/draft", json=script)
        if response.status_code != 201:
            raise RuntimeError(f"the draft was refused: {response.status_code} {response.text[:300]}")
        for _ in range(count):
            started = time.perf_counter()
            response = http.post(f"/api/v2/videos/{video_id}/scripts/draft/preview", json={"scene": SCENE})
            taken.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or response.headers["content-type"] != "video/mp4":
                raise RuntimeError(f"the preview failed: {response.status_code} {response.text[:300]}")
    return taken


if __name__ == "__main__":
    print_runs(run, __doc__, count="previews", default=PREVIEWS)
