"""`slidereel demo`: waits for a running stack, renders the bundled sample script through the
API while printing its live progress, then prints the published asset URLs."""

import argparse
import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from websockets.sync.client import connect

from services.api.auth.roles import Role
from services.cli.token import local_token

SAMPLE_SCRIPT = Path(__file__).with_name("sample_script.json")
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELED"}


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="render the bundled sample script on a running stack")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--script", type=Path, default=SAMPLE_SCRIPT, help="script JSON (SPEC §1)")
    parser.add_argument("--video-id", default=None, help="default: a fresh sample-… id")
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    base_url = args.base_url.rstrip("/")
    video_id = args.video_id or f"sample-{uuid.uuid4().hex[:8]}"
    approver = local_token("slidereel-demo", Role.APPROVER, timedelta(hours=1))
    with httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {approver}"}) as http:
        wait_until_ready(http, args.ready_timeout)
        script = json.loads(args.script.read_text(encoding="utf-8"))
        api = f"/api/v2/videos/{video_id}"
        check(http.put(f"{api}/scripts/script-001", json=script))
        check(http.post(f"{api}/scripts/script-001/approve"))
        job = check(http.post(f"{api}/render-jobs", json={"script_id": "script-001"}))
        print(f"rendering {video_id} as {job['job_id']}", flush=True)
        ws_url = base_url.replace("http", "ws", 1)
        final = watch(f"{ws_url}/ws/videos/{video_id}/render-progress?job_id={job['job_id']}&last_seq=0&token={approver}")
        if final["status"] != "SUCCEEDED":
            print(f"render ended {final['status']}: {final.get('error_code')} {final['message']}")
            return 1
        published = check(http.get(f"{api}/assets/published"))
    print(f"published {published['duration_sec']:.1f} s of video:")
    for key in ("video_url", "subtitle_url", "vtt_url", "thumbnail_url"):
        print(f"  {key:<14} {published[key]}")
    editor = local_token("editor", Role.EDITOR, timedelta(days=7))
    print(f"an editor token for the API (7 days; `slidereel token --help` mints others):\n  {editor}")
    return 0


def wait_until_ready(http: httpx.Client, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"the stack at {http.base_url} was not ready within {timeout:.0f} s")
        time.sleep(0.5)


def watch(url: str) -> dict:
    """Prints progress on each new step or status and every tenth percent; returns the terminal event."""
    shown = None
    with connect(url) as socket:
        while True:
            event = json.loads(socket.recv())
            if event["type"] not in ("progress", "snapshot"):
                continue
            milestone = (event["status"], event["step"], event["progress"] // 10)
            if milestone != shown:
                shown = milestone
                print(f"  [{event['progress']:3d}%] {event['status']:<9} {event['step'] or '':<19} {event['message']}", flush=True)
            if event["status"] in TERMINAL:
                return event


def check(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise SystemExit(f"{response.request.method} {response.request.url} -> {response.status_code}: {response.text}")
    return response.json()
