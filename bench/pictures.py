"""Image slides beside text slides, in one run on one worker: the reference script (12 Korean
scenes, 1920×1080) rendered as it is, and with each scene showing an uploaded 4000×3000 photo
instead of its text (fit alternating contain and cover, the scene title as a band), and the
same pictured script with every scene zooming in (`"motion": "zoom-in"`: 30 frames a second
through each scene instead of one); the uploads themselves timed too (sniff, decode, EXIF,
re-encode, publish).

    .venv/bin/python -m bench.pictures [--runs 3]
"""

import io
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.render import QUIET_UNCACHED, reference_script, render_and_follow, step_seconds
from bench.results import Row, print_runs
from libs.contracts.codes import Step
from tests.client import new_video_id
from tests.stack import Stack

SECTION = "pictures"
PHOTO_SIZE = (4000, 3000)


def run(runs: int = 3) -> list[Row]:
    text_script = reference_script()
    with tempfile.TemporaryDirectory() as data_dir:
        with Stack(data_dir=Path(data_dir), workers=1, extra_env=QUIET_UNCACHED).running() as stack:
            text = [_render(stack, text_script) for _ in range(runs)]
            pictured, zooming, uploads = [], [], []
            for _ in range(runs):
                video_id = new_video_id("bench-pictures")
                seconds, script = _upload_photos(stack, video_id, text_script)
                uploads += seconds
                pictured.append(_render(stack, script, video_id))
                zooming.append(_render(stack, _zooming(script), video_id, "script-zooming"))
    rows = []
    for name, measured in (("text slides", text), ("image slides", pictured), ("zooming image slides", zooming)):
        wall, video, slides, compose = _median(measured)
        rows += [
            Row(
                SECTION,
                f"{name}: real-time factor (median)",
                video / wall,
                "x",
                note=f"{video:.1f} s of video in {wall:.2f} s; runs: {', '.join(f'{one[0]:.2f}' for one in measured)} s",
            ),
            Row(SECTION, f"{name}: RENDER_SLIDES step (median)", slides, "s"),
            Row(SECTION, f"{name}: COMPOSE_VIDEO step (median)", compose, "s"),
        ]
    factor = {
        name: video / wall
        for name, (wall, video, _, _) in (("text", _median(text)), ("image", _median(pictured)), ("zoom", _median(zooming)))
    }
    rows.append(Row(SECTION, "image slides ÷ text slides, real-time factor", factor["image"] / factor["text"], "x"))
    rows.append(Row(SECTION, "zooming ÷ still image slides, real-time factor", factor["zoom"] / factor["image"], "x"))
    rows.append(
        Row(
            SECTION,
            f"upload of a {PHOTO_SIZE[0]}×{PHOTO_SIZE[1]} JPEG, POST → 201 (median)",
            sorted(uploads)[len(uploads) // 2],
            "s",
            note=f"{len(uploads)} uploads",
        )
    )
    return rows


def _render(
    stack: Stack, script: dict, video_id: str | None = None, script_id: str = "script-001"
) -> tuple[float, float, float, float]:
    """(wall seconds, video seconds, RENDER_SLIDES seconds, COMPOSE_VIDEO seconds) of one
    render: a photo costs in both steps, decoding and scaling it, then encoding its detail."""
    wall, events, _, _ = render_and_follow(stack, script, video_id, script_id)
    steps = step_seconds(events)
    return wall, events[-1]["assets"]["duration_sec"], steps[Step.RENDER_SLIDES.value], steps[Step.COMPOSE_VIDEO.value]


def _zooming(script: dict) -> dict:
    return {**script, "scenes": [{**scene, "slide": {**scene["slide"], "motion": "zoom-in"}} for scene in script["scenes"]]}


def _median(measured: list[tuple[float, ...]]) -> tuple[float, ...]:
    """The median of each field on its own (the slowest step need not be in the slowest run)."""
    return tuple(sorted(field)[len(field) // 2] for field in zip(*measured))


def _upload_photos(stack: Stack, video_id: str, text_script: dict) -> tuple[list[float], dict]:
    """Uploads one new photo per scene; returns the seconds each took and the pictured script."""
    seconds, scenes = [], []
    with stack.client(timeout=120) as http:
        for number, scene in enumerate(text_script["scenes"]):
            picture = photo(number)
            started = time.perf_counter()
            response = http.post(f"/api/v2/videos/{video_id}/media", content=picture)
            seconds.append(time.perf_counter() - started)
            response.raise_for_status()
            slide = {
                "image": response.json()["media_id"],
                "fit": ("contain", "cover")[number % 2],
                "title": scene.get("slide", {}).get("title", ""),
            }
            scenes.append({**scene, "slide": slide})
    return seconds, {**text_script, "scenes": scenes}


def photo(seed: int, size: tuple[int, int] = PHOTO_SIZE) -> bytes:
    """A photo-like JPEG: a colour gradient under sensor-like noise, different for every call
    (the noise is random), so no two uploads dedupe."""
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 24 + seed)
    picture = Image.merge("RGB", (gradient, noise, gradient.rotate(90 + seed, expand=False)))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=88)
    return buffer.getvalue()


if __name__ == "__main__":
    print_runs(run, __doc__)
