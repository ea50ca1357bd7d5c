"""The reference script as it is against the same script dressed as a team would publish it
(issue 27): 9:16, a fade between scenes, a music bed ducked under the narration and burned-in
captions (both at broadcast loudness, as every render is), on one worker, taking turns run
after run so the machine's drift falls on both alike.

    .venv/bin/python -m bench.look [--runs 3]
"""

import tempfile
from pathlib import Path

from bench.render import QUIET_UNCACHED, reference_script, render_and_follow
from bench.results import Row, print_runs, real_time_factor_rows
from tests.audio import write_tone_file
from tests.client import new_video_id
from tests.media import audio_video_durations
from tests.stack import Stack

SECTION = "look"
TARGETS = {"plain": 160, "dressed": 60}
"""Real-time factor on 2 cores (issue 27)."""
MUSIC_SEC = 30.0


def dressed_script(plain: dict, music_media: str) -> dict:
    return {
        **plain,
        "format": "9:16",
        "transition": {"type": "fade", "duration_sec": 0.4},
        "music": {"media": music_media},
        "captions": {"burn_in": True},
    }


def run(runs: int = 3) -> list[Row]:
    plain = reference_script()
    measured: dict[str, list[tuple[float, float]]] = {name: [] for name in TARGETS}
    with tempfile.TemporaryDirectory() as data_dir:
        write_tone_file(Path(data_dir) / "bed.flac", MUSIC_SEC)
        with Stack(data_dir=Path(data_dir), workers=1, extra_env=QUIET_UNCACHED).running() as stack:
            video_id = new_video_id("look")
            with stack.client(timeout=60) as http:
                uploaded = http.post(f"/api/v2/videos/{video_id}/media", content=(Path(data_dir) / "bed.flac").read_bytes())
                uploaded.raise_for_status()
            scripts = {"plain": plain, "dressed": dressed_script(plain, uploaded.json()["media_id"])}
            for run_number in range(runs):
                for name, script in scripts.items():
                    wall, _, _, job_id = render_and_follow(stack, script, video_id, f"{name}-{run_number}")
                    _, video = audio_video_durations(stack.asset_dir / video_id / job_id / "video.mp4")
                    measured[name].append((wall, video))
    rows, factors = real_time_factor_rows(SECTION, measured, TARGETS, "{} reference render")
    rows.append(Row(SECTION, "dressed ÷ plain, real-time factor", factors["dressed"] / factors["plain"], "x"))
    return rows


if __name__ == "__main__":
    print_runs(run, __doc__)
