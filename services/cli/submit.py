"""`slidereel submit SCRIPT.json --video ID`: saves the script, optionally approves it, starts
its render and, with --follow, draws the render's progress until it ends."""

import argparse
import json
from pathlib import Path
from typing import Any

from services.cli.api import Api, video_path
from services.cli.errors import CliError, ExitCode
from services.cli.options import add_command, open_api, wants_json
from services.cli.output import Output, asset_lines
from services.cli.progress_bar import follow_with_bar


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = add_command(commands, "submit", "save a script, optionally approve it, and start its render", common)
    parser.add_argument("script", type=Path, metavar="SCRIPT.json", help="the script body (SPEC §1)")
    parser.add_argument("--video", required=True, metavar="ID", help="the video the script belongs to")
    parser.add_argument("--script-id", metavar="ID", help="default: the file name without .json")
    parser.add_argument("--approve", action="store_true", help="approve the script before rendering (approver role)")
    parser.add_argument("--follow", action="store_true", help="show live progress until the job ends; exit 1 unless it SUCCEEDED")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = Output(wants_json(args))
    script = read_script(args.script)
    with open_api(args) as api:
        job = submit(api, out, script, args.video, args.script_id or args.script.stem, approve=args.approve, follow=args.follow)
    return report(out, job, followed=args.follow)


def read_script(path: Path) -> dict[str, Any]:
    """The file's JSON; the API checks its fields and names any it refuses."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CliError(ExitCode.BAD_INPUT, "INVALID_SCRIPT_FILE", f"{path}: {error}") from error


def submit(api: Api, out: Output, script: dict[str, Any], video_id: str, script_id: str, *, approve: bool, follow: bool) -> dict:
    """Save, approve if asked, start the render and follow it if asked; returns the job as stored."""
    saved = api.put(video_path(video_id, "scripts", script_id), script)
    out.note(f"saved script {script_id} of video {video_id} ({saved['status']}, {len(saved['scenes'])} scenes)")
    if approve:
        approved = api.post(video_path(video_id, "scripts", script_id, "approve"))
        out.note(f"approved script {script_id} ({approved['status']})")
    created = api.post(video_path(video_id, "render-jobs"), {"script_id": script_id})
    job_id = created["job_id"]
    if created["created"]:
        out.note(f"started render job {job_id}")
    else:
        # One active job per video (SPEC §4): the running one may be of another script.
        out.note(f"video {video_id} already has {created['status']} job {job_id}; following that one instead")
    if follow:
        follow_with_bar(api, video_id, job_id, out.live, from_start=created["created"])
    return api.get(video_path(video_id, "render-jobs", job_id))


def report(out: Output, job: dict, *, followed: bool) -> int:
    out.document(job)
    if job["status"] == "SUCCEEDED":
        out.note(f"{job['job_id']} SUCCEEDED; published files:")
        for line in asset_lines(job["assets"]):
            out.note(line)
        return ExitCode.OK
    if not followed:
        out.note(
            f"{job['job_id']} is {job['status']}; watch it with: slidereel jobs show --video {job['video_id']} {job['job_id']}"
        )
        return ExitCode.OK
    out.error(CliError(ExitCode.JOB_NOT_SUCCEEDED, job["error_code"] or job["status"], job["error_message"] or job["message"]))
    return ExitCode.JOB_NOT_SUCCEEDED
