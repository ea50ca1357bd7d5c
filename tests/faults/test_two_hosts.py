"""Renderer hosts that share no disk with the API: the API and two renderer hosts run as
different Unix users, each with its own data and temp folder (mode 0700) and loopback address
(tests/hosts.py), and the S3 store (moto) has one of its own. A render can succeed only through
the store. Then, with the store frozen while a render publishes, the attempt fails
STORAGE_FAILED and the retry succeeds once it answers again; and with a renderer host SIGKILLed
while it uploads, its half-done upload is never served and the job succeeds on the other host.

Each phase's jobs are tallied: lost (not SUCCEEDED), duplicated (SUCCEEDED more than once) and
partial (a served file that is not the complete file its manifest names) must all be 0."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import httpx
import msgspec
import obstore
import pytest
from obstore.store import S3Store

from libs.storage.s3 import MANIFEST, Manifest
from tests.client import approved_script, new_video_id, start_render, wait_for, wait_terminal
from tests.faults.conftest import TALLIES
from tests.faults.invariants import check_invariants, tally
from tests.hosts import can_make_hosts, ensure_user, hosts_root, launcher, private_folder
from tests.integration.test_render_jobs_api import SHORT_SCRIPT
from tests.s3_server import CREDENTIALS, S3Server
from tests.stack import ROOT, Stack, free_port

API_ADDRESS, STORE_ADDRESS = "127.0.0.2", "127.0.0.4"
RENDER_HOSTS = {"render-b": "127.0.0.3", "render-c": "127.0.0.5"}
"""Host name -> the loopback address its bus connections leave from."""
BUCKET, PREFIX = "two-hosts", "renders"
S3_TIMEOUT_SEC = 20
"""Long enough that a frozen store holds an upload while the test kills the host doing it."""
FILES = ("video.mp4", "subtitles.srt", "subtitles.vtt", "thumbnail.jpg")

pytestmark = pytest.mark.skipif(can_make_hosts() is not None, reason=str(can_make_hosts()))


@dataclass
class Hosts:
    api: Stack
    renderers: dict[str, Stack]
    store: S3Server
    users: dict[str, int]
    accepted: set[str] = field(default_factory=set)

    def home(self, name: str) -> Path:
        return self.api.data_dir if name == "api" else self.renderers[name].data_dir


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    root = hosts_root()
    store = S3Server(host=STORE_ADDRESS, port=free_port())
    store.start()
    store.create_bucket(BUCKET)
    env = {**store.env(f"s3://{BUCKET}/{PREFIX}"), "S3_TIMEOUT_SEC": str(S3_TIMEOUT_SEC)}
    api_user = ensure_user("slidereel-t-api")
    api_home = private_folder(root, "api", api_user)
    api = Stack(data_dir=api_home, address=API_ADDRESS, extra_env=env, launcher=launcher(api_user, api_home), capture_logs=True)
    users = {"api": api_user.pw_uid}
    renderers = {}
    for name, address in RENDER_HOSTS.items():
        user = ensure_user(f"slidereel-t-{name}")
        home = private_folder(root, name, user)
        users[name] = user.pw_uid
        renderers[name] = Stack(
            data_dir=home,
            address=API_ADDRESS,
            port=api.port,
            command_port=api.command_port,
            event_port=api.event_port,
            workers=1,
            capture_logs=True,
            launcher=launcher(user, home),
            extra_env={
                **env,
                "RENDER_WORKER_PREFIX": name,
                # libzmq's "source;destination": the bus connections leave from the host's own address.
                "RENDER_COMMAND_ENDPOINT": f"tcp://{address}:0;{API_ADDRESS}:{api.command_port}",
                "RENDER_EVENT_ENDPOINT": f"tcp://{address}:0;{API_ADDRESS}:{api.event_port}",
            },
        )
    running = Hosts(api=api, renderers=renderers, store=store, users=users)
    try:
        api.start_api()
        api.wait_alive()
        for renderer in renderers.values():
            renderer.start_renderer()
        with api.client(timeout=30) as http:
            give_up_at = time.monotonic() + 120
            while http.get("/readyz").json()["renderers"] < len(renderers):
                assert time.monotonic() < give_up_at, "the renderer hosts never connected"
                time.sleep(0.2)
        yield running
    finally:
        for stack in [*renderers.values(), api]:
            stack.stop()
        store.stop()
    TALLIES.append(("test_two_hosts", tally(api, running.accepted)))
    problems = check_invariants(api, running.accepted)
    assert not problems, "invariants broken:\n" + "\n".join(problems)
    subprocess.run(["rm", "-rf", str(root)], check=True)


def kill_host(hosts: Hosts, name: str) -> None:
    """Every process of that host's user, at once and without warning: the machine died."""
    subprocess.run(["pkill", "-KILL", "-u", str(hosts.users[name])], check=False)
    hosts.renderers[name].renderer.wait(timeout=30)


def served_set(hosts: Hosts, job: dict) -> dict[str, bytes]:
    """Each file of the job as the API serves it."""
    files = {}
    with httpx.Client(timeout=60) as http:
        for name in FILES:
            response = http.get(f"{hosts.api.base_url}/assets/{job['video_id']}/{job['job_id']}/{name}")
            assert response.status_code == 200, (name, response.status_code)
            files[name] = response.content
    return files


def partial_files(hosts: Hosts, job: dict, folder: Path) -> list[str]:
    """Served files that are not the whole file the job's manifest names (or that PyAV cannot decode)."""
    raw = S3Store(
        BUCKET,
        config={
            "endpoint": hosts.store.endpoint_url,
            "access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region": CREDENTIALS["AWS_REGION"],
        },
        client_options={"allow_http": True},
    )
    manifest = msgspec.json.decode(
        bytes(obstore.get(raw, f"{PREFIX}/{job['video_id']}/{job['job_id']}/{MANIFEST}").bytes()), type=Manifest
    )
    served = served_set(hosts, job)
    partial = []
    for name, content in served.items():
        stored = bytes(obstore.get(raw, f"{PREFIX}/{job['video_id']}/{job['job_id']}/{manifest.upload}/{name}").bytes())
        if len(content) != manifest.files[name].size or content != stored:
            partial.append(name)
    video = folder / f"{job['job_id']}.mp4"
    video.write_bytes(served["video.mp4"])
    try:
        with av.open(str(video)) as container:
            frames = sum(1 for _ in container.decode(video=0))
        if frames == 0:
            partial.append("video.mp4 (no frames)")
    except av.FFmpegError as error:
        partial.append(f"video.mp4 ({error})")
    return partial


def row(job: dict, partial: list[str]) -> dict[str, int]:
    outcomes = [attempt["outcome"] for attempt in job["attempts"]]
    return {
        "jobs": 1,
        "lost": int(job["status"] != "SUCCEEDED"),
        "duplicated": int(outcomes.count("SUCCEEDED") > 1),
        "partial": len(partial),
    }


def new_job(hosts: Hosts, http: httpx.Client, name: str) -> tuple[str, str]:
    video_id = new_video_id(name)
    job_id = start_render(http, video_id, approved_script(http, video_id, SHORT_SCRIPT))["job_id"]
    hosts.accepted.add(job_id)
    return video_id, job_id


def host_of(worker_id: str) -> str:
    return next(name for name in RENDER_HOSTS if worker_id.startswith(f"{name}-"))


def test_renderer_hosts_without_a_shared_disk_publish_only_through_the_store(hosts, tmp_path):
    table: dict[str, dict[str, int]] = {}
    with hosts.api.client(timeout=60) as http:
        # 1. No fault: the render crosses from a renderer host to the API through the store alone.
        video_id, job_id = new_job(hosts, http, "hosts-plain")
        job = wait_terminal(http, video_id, job_id, timeout=300)
        assert job["status"] == "SUCCEEDED", job
        table["none"] = row(job, partial_files(hosts, job, tmp_path))
        assert not [path for path in (hosts.home("api") / "assets").rglob("*") if path.is_file()], "assets on the API host"
        peek = subprocess.run(
            [*hosts.renderers["render-b"].launcher, sys.executable, "-c", f"import os; os.listdir({str(hosts.home('api'))!r})"],
            capture_output=True,
            text=True,
        )
        assert peek.returncode != 0 and "PermissionError" in peek.stderr, "a renderer host could read the API's folder"

        # 2. The store stops answering while a render publishes: STORAGE_FAILED, then the retry succeeds.
        os.kill(hosts.store.process.pid, signal.SIGSTOP)
        try:
            video_id, job_id = new_job(hosts, http, "hosts-store")
            wait_for(http, video_id, job_id, lambda j: j["step"] == "PUBLISH_ASSETS", timeout=300, what="the upload")
            failed = wait_for(
                http, video_id, job_id, lambda j: j["attempts"][0]["outcome"], timeout=300, what="the first attempt's end"
            )
        finally:
            os.kill(hosts.store.process.pid, signal.SIGCONT)
        assert failed["attempts"][0]["error_code"] == "STORAGE_FAILED", failed["attempts"]
        job = wait_terminal(http, video_id, job_id, timeout=300)
        table["store stopped mid-upload"] = row(job, partial_files(hosts, job, tmp_path) if job["status"] == "SUCCEEDED" else [])

        # 3. A renderer host dies while it uploads: its upload is never served, the other host renders the job.
        os.kill(hosts.store.process.pid, signal.SIGSTOP)
        try:
            video_id, job_id = new_job(hosts, http, "hosts-kill")
            uploading = wait_for(http, video_id, job_id, lambda j: j["step"] == "PUBLISH_ASSETS", timeout=300, what="the upload")
            victim = host_of(uploading["attempts"][-1]["worker_id"])
            kill_host(hosts, victim)
        finally:
            os.kill(hosts.store.process.pid, signal.SIGCONT)
        job = wait_terminal(http, video_id, job_id, timeout=300)
        assert job["attempts"][0]["error_code"] == "WORKER_LOST", job["attempts"]
        assert host_of(job["attempts"][-1]["worker_id"]) != victim, job["attempts"]
        table[f"renderer host SIGKILLed mid-upload ({victim})"] = row(
            job, partial_files(hosts, job, tmp_path) if job["status"] == "SUCCEEDED" else []
        )

    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "two_hosts.json").write_text(json.dumps(table, indent=2))
    print("two hosts:", json.dumps(table))
    assert all(counts["lost"] == counts["duplicated"] == counts["partial"] == 0 for counts in table.values()), table
