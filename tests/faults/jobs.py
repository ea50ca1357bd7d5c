"""What the fault tests submit, through the public API."""

import json

import httpx

from tests.client import approved_script, new_video_id, start_render
from tests.job_store import blank_the_narration
from tests.stack import FIXTURES, Stack

REFERENCE = json.loads((FIXTURES / "reference_script.json").read_text(encoding="utf-8"))


def script_of(scenes: int) -> dict:
    """The reference script's scenes repeated up to `scenes`: render time grows with it."""
    cycle = REFERENCE["scenes"]
    return {**REFERENCE, "scenes": [cycle[index % len(cycle)] for index in range(scenes)]}


def approved(stack: Stack, http: httpx.Client, video_id: str, script: dict, *, blank: bool = False) -> str:
    """The id of `script`, saved and approved. `blank`: its narration is then blanked in the job
    table (approval refuses blank narration), so the renderer finds nothing to speak and fails
    the job at once with INVALID_SCRIPT."""
    script_id = approved_script(http, video_id, script)
    if blank:
        with stack.job_table() as db:
            blank_the_narration(db, video_id, script_id)
    return script_id


def submit(stack: Stack, http: httpx.Client, script: dict, prefix: str = "fault", *, blank: bool = False) -> tuple[str, str]:
    """Creates, approves and renders a script on a fresh video; records the accepted job."""
    video_id = new_video_id(prefix)
    job_id = start_render(http, video_id, approved(stack, http, video_id, script, blank=blank))["job_id"]
    stack.accepted.add(job_id)
    return video_id, job_id
