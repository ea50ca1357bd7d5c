"""Burned-in captions against none, in one run on one worker: the reference script (12 Korean
scenes, 1920×1080, espeak) rendered as it is, with `"captions": {"burn_in": true}` (a frame per
caption change) and with `"highlight": true` too (a frame per word), the three taking turns run
after run so the machine's drift falls on each alike.

    .venv/bin/python -m bench.captions [--runs 3]
"""

import tempfile
from pathlib import Path

from bench.render import QUIET_UNCACHED, reference_script, render_and_follow
from bench.results import Row, print_runs, real_time_factor_rows
from tests.media import audio_video_durations
from tests.stack import Stack

SECTION = "captions"
VARIANTS = {
    "no burned-in captions": None,
    "burned-in captions": {"burn_in": True},
    "burned-in captions, spoken word marked": {"burn_in": True, "highlight": True},
}
TARGETS = {"burned-in captions": 100, "burned-in captions, spoken word marked": 50}
"""Real-time factor on 2 cores (issue 26)."""


def run(runs: int = 3) -> list[Row]:
    plain = reference_script()
    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as data_dir:
        with Stack(data_dir=Path(data_dir), workers=1, extra_env=QUIET_UNCACHED).running() as stack:
            for _ in range(runs):
                for name, captions in VARIANTS.items():
                    script = plain if captions is None else {**plain, "captions": captions}
                    wall, _, video_id, job_id = render_and_follow(stack, script)
                    _, video = audio_video_durations(stack.asset_dir / video_id / job_id / "video.mp4")
                    measured[name].append((wall, video))
    rows, factors = real_time_factor_rows(SECTION, measured, TARGETS)
    for name in TARGETS:
        rows.append(Row(SECTION, f"{name} ÷ none, real-time factor", factors[name] / factors["no burned-in captions"], "x"))
    return rows


if __name__ == "__main__":
    print_runs(run, __doc__)
