"""Voices (issue 24), both through the real stack in one run: the reference script narrated by
the `google` engine against the local fake (tests/cloud_tts_fake.py, 300 ms per request) at
TTS_CONCURRENCY=1 and 4, and the latency of `POST /api/v2/voices/preview` (espeak) while every
render worker is busy, beside the same previews with the workers idle.

    .venv/bin/python -m bench.voices [--previews 20]
"""

import math
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.render import QUIET_UNCACHED, reference_script, render_and_follow, step_seconds
from bench.results import Row, Target, print_runs
from libs.contracts.codes import Step
from libs.tokens import Role
from services.api.voices.schemas import MAX_PREVIEW_CHARS
from services.renderer.text import split_sentences
from tests.client import approved_script, job, new_video_id, start_render, wait_running
from tests.cloud_tts_fake import FakeCloudTts, Fault
from tests.stack import Stack

SECTION = "voices"
REQUEST_HOLD = Fault(hold_sec=0.3)
"""What a cloud provider takes per sentence, about; the fake answers real speech after it."""
CLOUD_VOICE = "google#ko-KR-Neural2-C"
CONCURRENCIES = (1, 4)
MIN_CONCURRENCY_SPEEDUP = 3
MAX_PREVIEW_P95_SEC = 1.0
PREVIEWS = 20
BUSY_COPIES = 16
"""The reference scenes repeated 16 times (192 scenes, the cap is 200): a render that outlasts
the previews even on an idle machine, so the workers stay busy throughout."""
BENCH_ENV = {**QUIET_UNCACHED, "RATE_LIMIT_WRITES_PER_MINUTE": "1000000"}
_SENTENCE_COUNT = re.compile(r"Synthesizing (\d+) sentences")


@dataclass(frozen=True)
class CloudRender:
    tts_sec: float
    wall_sec: float
    sentences: int
    requests: int
    most_in_flight: int


@dataclass(frozen=True)
class Previews:
    taken_ms: dict[str, list[float]]
    """Each preview's milliseconds, by the text spoken."""
    busy_jobs: int
    """Renders RUNNING when the first preview was asked for and still when the last answered."""
    steps: str
    """The steps those renders were in at the end, for the reader."""


def run(previews: int = PREVIEWS) -> list[Row]:
    return _cloud_rows() + _preview_rows(previews)


# --- cloud concurrency -----------------------------------------------------------------------


def _cloud_rows() -> list[Row]:
    script = {**reference_script(), "voice": CLOUD_VOICE}
    with FakeCloudTts() as fake:
        measured = {concurrency: _cloud_render(fake, script, concurrency) for concurrency in CONCURRENCIES}
    one, many = (measured[concurrency] for concurrency in CONCURRENCIES)
    rows = [
        Row(
            SECTION,
            f"{CLOUD_VOICE}: GENERATE_TTS at TTS_CONCURRENCY={concurrency}",
            render.tts_sec,
            "s",
            note=f"most requests in flight at the fake: {render.most_in_flight}",
        )
        for concurrency, render in measured.items()
    ]
    best = _best_speedup(script, CONCURRENCIES[1])
    rows.append(
        Row(
            SECTION,
            f"GENERATE_TTS speed-up, TTS_CONCURRENCY={CONCURRENCIES[1]} ÷ {CONCURRENCIES[0]}",
            one.tts_sec / many.tts_sec,
            "x",
            Target(">=", MIN_CONCURRENCY_SPEEDUP),
            note=f"{REQUEST_HOLD.hold_sec * 1000:.0f} ms per request, TTS cache off; the most possible: "
            f"{best:.2f}x (every sentence in rounds of {CONCURRENCIES[1]})",
        )
    )
    rows += [
        Row(SECTION, f"{CLOUD_VOICE}: render wall, POST → SUCCEEDED, TTS_CONCURRENCY={concurrency}", render.wall_sec, "s")
        for concurrency, render in measured.items()
    ]
    rows += [
        Row(
            SECTION,
            f"requests seen by the fake, TTS_CONCURRENCY={concurrency}",
            render.requests,
            "requests",
            note=f"the script has {render.sentences} sentences",
        )
        for concurrency, render in measured.items()
    ]
    return rows


def _best_speedup(script: dict, concurrency: int) -> float:
    """The speed-up `concurrency` could give at most: sentences ÷ rounds of `concurrency` held requests."""
    total = sum(len(split_sentences(scene["narration"])) for scene in script["scenes"])
    return total / math.ceil(total / concurrency)


def _cloud_render(fake: FakeCloudTts, script: dict, concurrency: int) -> CloudRender:
    env = {**BENCH_ENV, "TTS_CONCURRENCY": str(concurrency), "GOOGLE_TTS_ENDPOINT": fake.url, "GOOGLE_TTS_API_KEY": fake.key}
    with _stack(workers=1, env=env) as stack:
        # Untimed and unheld: the worker's first render (fonts, voice list) and the fake's first
        # espeak of each sentence (it keeps them) would otherwise count against one setting only.
        fake.fault_for = None
        render_and_follow(stack, script)
        fake.fault_for = lambda _text: REQUEST_HOLD
        fake.max_in_flight = 0
        before = len(fake.synthesis_requests())
        wall, events, _, _ = render_and_follow(stack, script)
        requests = len(fake.synthesis_requests()) - before
    (sentences,) = {int(found[1]) for event in events if (found := _SENTENCE_COUNT.search(event.get("message") or ""))}
    tts_sec = step_seconds(events)[Step.GENERATE_TTS.value]
    return CloudRender(tts_sec, wall, sentences, requests, fake.max_in_flight)


# --- preview latency -------------------------------------------------------------------------


def _preview_rows(previews: int) -> list[Row]:
    script = reference_script()
    sentences = [sentence for scene in script["scenes"] for sentence in split_sentences(scene["narration"])]
    longest = _longest_prefix(sentences, MAX_PREVIEW_CHARS)
    texts = {"first sentence": sentences[0], f"{len(longest)} characters": longest}
    bodies = {label: {"voice": "espeak", "language": script["language"], "text": text} for label, text in texts.items()}
    long_script = {**script, "scenes": script["scenes"] * BUSY_COPIES}
    with _stack(workers=2, env=BENCH_ENV) as stack:
        _time_previews(stack, bodies["first sentence"], 2)  # untimed: each worker's first espeak voice load
        idle = {label: _time_previews(stack, body, previews) for label, body in bodies.items()}
        busy = _previews_while_rendering(stack, bodies, previews, long_script)
    rows = []
    for label, text in texts.items():
        note = f"{previews} previews one after another of {len(text)} characters: {text if len(text) <= 20 else text[:20] + '…'}"
        rows += _latency_rows(f"{label}, idle workers", idle[label], note)
        if busy.busy_jobs < 2:
            rows.append(
                Row(
                    SECTION,
                    f"preview p95, {label}, every worker rendering",
                    "void",
                    "",
                    Target("<=", MAX_PREVIEW_P95_SEC * 1000),
                    note=f"only {busy.busy_jobs} of 2 renders were still RUNNING when the last preview answered",
                )
            )
        else:
            rows += _latency_rows(
                f"{label}, every worker rendering",
                busy.taken_ms[label],
                f"{note}; both renders RUNNING throughout, at the end in {busy.steps}",
                Target("<=", MAX_PREVIEW_P95_SEC * 1000),
            )
    return rows


def _longest_prefix(sentences: list[str], limit: int) -> str:
    """Whole sentences from the start, as many as fit in `limit` characters: about the longest
    preview the API takes."""
    text = sentences[0]
    for sentence in sentences[1:]:
        if len(f"{text} {sentence}") > limit:
            break
        text = f"{text} {sentence}"
    return text


def _previews_while_rendering(stack: Stack, bodies: dict[str, dict], previews: int, long_script: dict) -> Previews:
    with stack.client(timeout=60) as http:
        renders = []
        for _ in range(stack.workers):
            video_id = new_video_id("bench-busy")
            script_id = approved_script(http, video_id, long_script)
            renders.append((video_id, start_render(http, video_id, script_id)["job_id"]))
        for video_id, job_id in renders:
            wait_running(http, video_id, job_id)
        taken_ms = {label: _time_previews(stack, body, previews) for label, body in bodies.items()}
        at_end = [job(http, video_id, job_id) for video_id, job_id in renders]
        for video_id, job_id in renders:
            http.post(f"/api/v2/videos/{video_id}/render-jobs/{job_id}/cancel")
    running = [current for current in at_end if current["status"] == "RUNNING"]
    return Previews(taken_ms, len(running), " and ".join(current["step"] for current in running))


def _time_previews(stack: Stack, body: dict, count: int) -> list[float]:
    """Milliseconds from each request to its whole answer."""
    taken = []
    with stack.client(Role.EDITOR, timeout=30) as http:
        for _ in range(count):
            started = time.perf_counter()
            response = http.post("/api/v2/voices/preview", json=body)
            taken.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or not response.headers["content-type"].startswith("audio/"):
                raise RuntimeError(f"the preview failed: {response.status_code} {response.text[:300]}")
    return taken


def _latency_rows(label: str, taken_ms: list[float], note: str, p95_target: Target | None = None) -> list[Row]:
    return [
        Row(SECTION, f"preview p50, {label}", _percentile(taken_ms, 50), "ms"),
        Row(SECTION, f"preview p95, {label}", _percentile(taken_ms, 95), "ms", p95_target, note),
        Row(SECTION, f"preview max, {label}", max(taken_ms), "ms"),
    ]


def _percentile(values: list[float], percent: float) -> float:
    """Nearest rank: a value that was measured, never one interpolated between two."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


@contextmanager
def _stack(workers: int, env: dict[str, str]) -> Iterator[Stack]:
    # SQLite: the job table is incidental to what is measured here.
    with tempfile.TemporaryDirectory() as data_dir:
        with Stack(data_dir=Path(data_dir), workers=workers, extra_env=env, database_url=None).running() as stack:
            yield stack


if __name__ == "__main__":
    print_runs(run, __doc__, count="previews", default=PREVIEWS)
