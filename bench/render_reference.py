"""End-to-end render of the reference script through the real stack (API, bus, one renderer
worker): wall time from POST to the terminal WebSocket event, video duration, their ratio,
file sizes. A measurement, not a test; the full benchmark suite is issue 5's.

    .venv/bin/python -m bench.render_reference [--runs 3]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from tests.client import approved_script, follow, new_video_id, start_render
from tests.media import audio_video_durations
from tests.stack import FIXTURES, Stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    script = json.loads((FIXTURES / "reference_script.json").read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as data_dir:
        stack = Stack(data_dir=Path(data_dir), workers=1)
        stack.start_api()
        stack.start_renderer()
        try:
            stack.wait_ready()
            with stack.client(timeout=60) as http:
                for run in range(1, args.runs + 1):
                    video_id = new_video_id("bench")
                    script_id = approved_script(http, video_id, script)
                    started = time.perf_counter()
                    job_id = start_render(http, video_id, script_id)["job_id"]
                    events = follow(stack, video_id, f"?job_id={job_id}&last_seq=0")
                    wall = time.perf_counter() - started
                    assert events[-1]["status"] == "SUCCEEDED", events[-1]
                    folder = stack.asset_dir / video_id / job_id
                    audio, video = audio_video_durations(folder / "video.mp4")
                    sizes = ", ".join(f"{path.name} {path.stat().st_size:,} B" for path in sorted(folder.iterdir()))
                    print(f"run {run}: wall {wall:.2f} s, video {video:.2f} s (audio {audio:.2f} s), "
                          f"{video / wall:.1f}x real time; {sizes}", flush=True)
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
