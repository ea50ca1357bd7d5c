"""`slidereel jobs list|show|cancel`: a video's render jobs."""

import argparse

from libs.contracts.codes import JobStatus
from services.cli.api import video_path
from services.cli.errors import ExitCode
from services.cli.follow import TERMINAL
from services.cli.options import add_command, open_api, wants_json
from services.cli.output import Output, job_lines


def add_parser(commands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    jobs = commands.add_parser("jobs", help="list, show or cancel a video's render jobs")
    actions = jobs.add_subparsers(dest="action", required=True, metavar="{list,show,cancel}")

    listing = add_command(actions, "list", "a video's render jobs, newest first", common)
    listing.add_argument("--video", required=True, metavar="ID")
    listing.add_argument("--status", choices=[status.value for status in JobStatus], help="only jobs in this status")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (1-100, default 20)")
    listing.add_argument("--offset", type=int, default=0, help="skip this many of the newest")
    listing.set_defaults(run=list_jobs)

    for name, summary, run in (
        ("show", "one render job: state, failure, attempts, files", show_job),
        ("cancel", "cancel a PENDING or RUNNING render job", cancel_job),
    ):
        action = add_command(actions, name, summary, common)
        action.add_argument("--video", required=True, metavar="ID")
        action.add_argument("job_id", metavar="JOB_ID")
        action.set_defaults(run=run)


def list_jobs(args: argparse.Namespace) -> int:
    out = Output(wants_json(args))
    with open_api(args) as api:
        page = api.get(video_path(args.video, "render-jobs"), status=args.status, limit=args.limit, offset=args.offset)
    out.document(page)
    out.note(f"{page['total']} job(s) of video {page['video_id']}" + (f" in {args.status}" if args.status else ""))
    for job in page["jobs"]:
        out.note(
            f"  {job['job_id']}  {job['status']:<9} {job['progress']:3d}%  {job['step'] or '-':<19} "
            f"{job['created_at']}  {job['error_code'] or ''}".rstrip()
        )
    return ExitCode.OK


def show_job(args: argparse.Namespace) -> int:
    out = Output(wants_json(args))
    with open_api(args) as api:
        job = api.get(video_path(args.video, "render-jobs", args.job_id))
    out.document(job)
    for line in job_lines(job):
        out.note(line)
    return ExitCode.OK


def cancel_job(args: argparse.Namespace) -> int:
    out = Output(wants_json(args))
    with open_api(args) as api:
        job = api.post(video_path(args.video, "render-jobs", args.job_id, "cancel"))
    out.document(job)
    out.note(f"{job['job_id']} {job['status']}" + ("" if job["status"] in TERMINAL else f" ({job['message']})"))
    return ExitCode.OK
