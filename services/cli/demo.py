"""`slidereel demo`: waits for a running stack, renders the bundled sample script through the
API while drawing its live progress, then prints the published asset URLs."""

import argparse
import time
import uuid
from datetime import timedelta
from pathlib import Path

from libs.tokens import Role
from services.cli.api import Api
from services.cli.errors import CliError, ExitCode
from services.cli.options import add_command, base_url, wants_json
from services.cli.output import Output
from services.cli.submit import read_script, report, submit
from services.cli.token import local_token

SAMPLE_SCRIPT = Path(__file__).with_name("sample_script.json")


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(commands, "demo", "render the bundled sample script on a running stack of this host", common)
    parser.add_argument("--script", type=Path, default=SAMPLE_SCRIPT, help="script JSON (SPEC §1)")
    parser.add_argument("--video-id", default=None, help="default: a fresh sample-… id")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Output(wants_json(args))
    video_id = args.video_id or f"sample-{uuid.uuid4().hex[:8]}"
    # The demo runs beside the API it started, so it signs its own token with the installation key.
    with Api(base_url(args), local_token("slidereel-demo", Role.APPROVER, timedelta(hours=1))) as api:
        wait_until_ready(api, args.ready_timeout)
        job = submit(api, out, read_script(args.script), video_id, "script-001", approve=True, follow=True)
    outcome = report(out, job, followed=True)
    if outcome == ExitCode.OK:
        editor = local_token("editor", Role.EDITOR, timedelta(days=7))
        out.note(f"an editor token for the API (7 days; `slidereel token --help` mints others):\n  {editor}")
    return outcome


def wait_until_ready(api: Api, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not api.is_ready():
        if time.monotonic() > deadline:
            raise CliError(
                ExitCode.UNAVAILABLE, "SERVICE_UNAVAILABLE", f"the stack at {api.base_url} was not ready within {timeout:.0f} s"
            )
        time.sleep(0.5)
