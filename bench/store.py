"""The reference render published to the local folder and to an S3 store (moto's server, on
this machine), side by side in one run: the publish step (an fsync and a rename, against an
upload of every file and then the manifest) against the whole render.

    .venv/bin/python -m bench.store [--runs 2]
"""

import argparse
import tempfile
from pathlib import Path

from bench.render import QUIET_UNCACHED, reference_script, render_and_follow, step_seconds
from bench.results import Row, markdown_table
from libs.contracts.codes import Step
from tests.s3_server import running_s3_server
from tests.stack import Stack

SECTION = "store"
BUCKET = "bench-assets"


def run(runs: int = 2) -> list[Row]:
    script = reference_script()
    with running_s3_server() as server:
        server.create_bucket(BUCKET)
        backends = {"local folder": {}, "S3 (moto)": server.env(f"s3://{BUCKET}/renders")}
        measured = {name: _measure(script, env, runs) for name, env in backends.items()}
    rows = []
    for name, (wall, publish, size_mb) in measured.items():
        rows += [
            Row(SECTION, f"{name}: render wall, POST → SUCCEEDED (median)", wall, "s"),
            Row(SECTION, f"{name}: PUBLISH_ASSETS step (median)", publish, "s", note=f"{size_mb:.1f} MB of files"),
            Row(SECTION, f"{name}: publish share of the render", 100 * publish / wall, "%"),
        ]
    (_, local_publish, _), (_, s3_publish, _) = measured.values()
    rows.append(Row(SECTION, "S3 publish ÷ local publish", s3_publish / local_publish, "x"))
    return rows


def _measure(script: dict, env: dict[str, str], runs: int) -> tuple[float, float, float]:
    """Median wall and publish seconds of `runs` renders, and the size of one job's files."""
    walls, publishes, size = [], [], 0
    with tempfile.TemporaryDirectory() as data_dir:
        with Stack(data_dir=Path(data_dir), workers=1, extra_env={**QUIET_UNCACHED, **env}).running() as stack:
            for _ in range(runs):
                wall, events, video_id, job_id = render_and_follow(stack, script)
                walls.append(wall)
                publishes.append(step_seconds(events)[Step.PUBLISH_ASSETS.value])
                with stack.client(timeout=60) as http:
                    assets = http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()["assets"]
                    size = sum(
                        len(http.get(assets[key]).content) for key in ("video_url", "subtitle_url", "vtt_url", "thumbnail_url")
                    )
    return sorted(walls)[len(walls) // 2], sorted(publishes)[len(publishes) // 2], size / 1e6


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    print(markdown_table(run(parser.parse_args().runs)))
