"""What the commands print: lines for people on stdout, or with `--json` exactly one JSON document
on stdout; errors always on stderr, in SPEC §2's shape."""

import json
import sys
from typing import Any

from rich.console import Console

from services.cli.errors import CliError

ASSET_KEYS = ("video_url", "subtitle_url", "vtt_url", "thumbnail_url", "chapters_url", "words_url")


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        # Live progress goes to stderr so that stdout stays what the command answers; with
        # --json it is silenced, since a script reads the final document instead.
        self.live = Console(stderr=True, quiet=as_json, highlight=False)

    def note(self, text: str) -> None:
        """A line for people; nothing with --json."""
        if not self.as_json:
            print(text, flush=True)

    def document(self, data: Any) -> None:
        """The command's machine-readable answer (with --json)."""
        if self.as_json:
            print(json.dumps(data, ensure_ascii=False, indent=2), flush=True)

    def error(self, error: CliError) -> None:
        if self.as_json:
            print(json.dumps(error.as_dict(), ensure_ascii=False), file=sys.stderr, flush=True)
            return
        print(f"error: {error.error_code}: {error.message}", file=sys.stderr)
        if error.detail:
            print(f"detail: {json.dumps(error.detail, ensure_ascii=False)}", file=sys.stderr)
        sys.stderr.flush()


def asset_lines(assets: dict[str, Any]) -> list[str]:
    """The published files of a job or video, one URL a line, and the video's length."""
    # Chapters and words are absent from videos rendered before them (and words when not asked for).
    lines = [f"  {key:<14} {assets[key]}" for key in ASSET_KEYS if assets.get(key)]
    return [*lines, f"  {'duration_sec':<14} {assets['duration_sec']:.2f}"]


def job_lines(job: dict[str, Any]) -> list[str]:
    """`jobs show`: the job's state, its failure if any, its attempts and its files."""
    lines = [
        f"{job['job_id']}  {job['status']}  {job['progress']}%  {job['step'] or '-'}",
        f"  video/script   {job['video_id']} / {job['script_id']}",
        f"  message        {job['message']}",
        f"  created        {job['created_at']} by {job['created_by']}",
        f"  finished       {job['finished_at'] or '-'}",
        f"  attempt        {job['attempt']} of {job['max_attempts']}",
    ]
    if job["error_code"]:
        lines.append(f"  error          {job['error_code']}: {job['error_message']}")
    for attempt in job.get("attempts", []):
        outcome = attempt["outcome"] or "running"
        failure = f" {attempt['error_code']}" if attempt["error_code"] else ""
        lines.append(f"    attempt {attempt['attempt']} on {attempt['worker_id']}: {outcome}{failure}")
    if job["assets"]:
        lines.extend(asset_lines(job["assets"]))
    return lines
