"""The `slidereel` command as a user runs it: a real subprocess against the real API and renderer
pool, checked by what it prints and by the exit codes scripts rely on."""

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from libs.contracts.codes import Step
from libs.tokens import SECRET_FILE, Role
from services.cli.demo import SAMPLE_SCRIPT
from services.cli.errors import ExitCode
from tests.client import new_video_id, wait_for, wait_running
from tests.integration.test_render_jobs_api import SHORT_SCRIPT
from tests.stack import ROOT, Stack, free_port


def slidereel(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 240
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        capture_output=True,
        text=True,
        env=env or client_env(),
        cwd=cwd,
        timeout=timeout,
    )


def client_env(**variables: str) -> dict[str, str]:
    """The caller's environment without any slidereel setting of its own, plus `variables`."""
    own = ("SLIDEREEL_URL", "SLIDEREEL_TOKEN", "JWT_SECRET", "RENDER_JOB_DB_PATH")
    return {**{name: value for name, value in os.environ.items() if name not in own}, "PYTHONPATH": str(ROOT), **variables}


def as_user(stack: Stack, role: Role = Role.APPROVER) -> dict[str, str]:
    return client_env(SLIDEREEL_URL=stack.base_url, SLIDEREEL_TOKEN=stack.token(role))


@pytest.fixture
def script_file(tmp_path: Path) -> Path:
    path = tmp_path / "short.json"
    path.write_text(json.dumps(SHORT_SCRIPT, ensure_ascii=False), encoding="utf-8")
    return path


def uncached_sample(folder: Path, video_id: str) -> Path:
    """The 12-scene sample with narration no earlier render spoke, so text-to-speech takes its
    real time (the renderer caches speech) and the render lasts long enough to act during it."""
    script = json.loads(SAMPLE_SCRIPT.read_text(encoding="utf-8"))
    for scene in script["scenes"]:
        scene["narration"] = scene["narration"].replace(".", f" {video_id}.")  # the cache keeps sentences
    path = folder / f"{video_id}.json"
    path.write_text(json.dumps(script, ensure_ascii=False), encoding="utf-8")
    return path


def test_submit_approve_follow_draws_progress_and_prints_the_asset_urls(stack: Stack, script_file: Path) -> None:
    video_id = new_video_id("cli")
    result = slidereel("submit", str(script_file), "--video", video_id, "--approve", "--follow", env=as_user(stack))

    assert result.returncode == ExitCode.OK, result.stderr
    assert f"saved script short of video {video_id} (DRAFT, 2 scenes)" in result.stdout
    assert "approved script short (APPROVED)" in result.stdout
    # Without a terminal rich draws no bar, but every step still gets its line on stderr.
    for step in Step:
        assert step.value in result.stderr, (step, result.stderr)
    assert "[100%] SUCCEEDED" in result.stderr
    video_url = next(line.split()[1] for line in result.stdout.splitlines() if line.strip().startswith("video_url"))
    assert httpx.get(video_url, headers={"Range": "bytes=0-99"}).status_code == 206


def test_submit_json_prints_the_finished_job_with_its_assets(stack: Stack, script_file: Path) -> None:
    video_id = new_video_id("cli")
    result = slidereel(
        "--json",
        "submit",
        str(script_file),
        "--video",
        video_id,
        "--script-id",
        "s1",
        "--approve",
        "--follow",
        env=as_user(stack),
    )

    assert result.returncode == ExitCode.OK, result.stderr
    job = json.loads(result.stdout)
    assert job["status"] == "SUCCEEDED" and job["video_id"] == video_id and job["script_id"] == "s1"
    assert job["assets"]["duration_sec"] > 0
    assert result.stderr == ""  # no progress lines mixed into a machine run

    listed = slidereel("assets", video_id, "--json", env=as_user(stack, Role.VIEWER))
    assert listed.returncode == ExitCode.OK, listed.stderr
    published = json.loads(listed.stdout)
    assert published["published"] is True and published["job_id"] == job["job_id"]
    assert published["video_url"] == job["assets"]["video_url"]


def test_a_draft_script_is_not_rendered_without_approve(stack: Stack, script_file: Path) -> None:
    result = slidereel("submit", str(script_file), "--video", new_video_id("cli"), "--follow", env=as_user(stack, Role.EDITOR))

    assert result.returncode == ExitCode.BAD_INPUT
    assert "error: SCRIPT_NOT_APPROVED:" in result.stderr
    assert "(DRAFT, 2 scenes)" in result.stdout  # the script itself was saved


def test_a_script_the_api_refuses_is_reported_naming_the_field(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({**SHORT_SCRIPT, "scenes": [{**SHORT_SCRIPT["scenes"][0], "narration": "가" * 5001}]}), encoding="utf-8"
    )

    result = slidereel("--json", "submit", str(bad), "--video", new_video_id("cli"), env=as_user(stack))

    assert result.returncode == ExitCode.BAD_INPUT and result.stdout == ""
    error = json.loads(result.stderr)
    assert error["error_code"] == "VALIDATION_ERROR"
    assert error["detail"]["errors"][0]["field"] == "scenes[0].narration"


def test_a_script_file_that_is_not_json_is_bad_input(stack: Stack, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"title": ', encoding="utf-8")

    for path in (broken, tmp_path / "missing.json"):
        result = slidereel("submit", str(path), "--video", new_video_id("cli"), env=as_user(stack))
        assert result.returncode == ExitCode.BAD_INPUT
        assert f"error: INVALID_SCRIPT_FILE: {path}" in result.stderr


def test_jobs_list_show_and_cancel_while_a_follower_sees_the_cancel(stack: Stack, tmp_path: Path) -> None:
    video_id = new_video_id("cli")
    env = as_user(stack)
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "submit",
            str(uncached_sample(tmp_path, video_id)),
            "--video",
            video_id,
            "--approve",
            "--follow",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        with stack.client(timeout=30) as http:
            job_id = wait_for_job_id(http, video_id)
            wait_running(http, video_id, job_id)

            canceled = slidereel("jobs", "cancel", "--video", video_id, job_id, env=env)
            assert canceled.returncode == ExitCode.OK, canceled.stderr
            assert canceled.stdout.strip() == f"{job_id} CANCELED"
            assert slidereel("jobs", "cancel", "--video", video_id, job_id, env=env).returncode == ExitCode.OK  # idempotent

        listed = json.loads(slidereel("jobs", "list", "--video", video_id, "--status", "CANCELED", "--json", env=env).stdout)
        assert [job["job_id"] for job in listed["jobs"]] == [job_id]
        shown = slidereel("jobs", "show", "--video", video_id, job_id, env=env)
        assert shown.returncode == ExitCode.OK and shown.stdout.startswith(f"{job_id}  CANCELED")
        assert "attempt 1 on " in shown.stdout

        stdout, stderr = follower.communicate(timeout=60)
        assert follower.returncode == ExitCode.JOB_NOT_SUCCEEDED, (stdout, stderr)
        assert "CANCELED" in stderr

        nothing = slidereel("jobs", "list", "--video", video_id, "--status", "SUCCEEDED", env=env)
        assert nothing.returncode == ExitCode.OK and nothing.stdout.startswith(f"0 job(s) of video {video_id} in SUCCEEDED")
        assert slidereel("assets", video_id, env=env).returncode == ExitCode.NOT_FOUND
    finally:
        follower.kill()
        follower.wait()


def test_finished_jobs_cannot_be_canceled_and_unknown_ones_are_not_found(stack: Stack, script_file: Path) -> None:
    video_id = new_video_id("cli")
    env = as_user(stack)
    job = json.loads(
        slidereel("--json", "submit", str(script_file), "--video", video_id, "--approve", "--follow", env=env).stdout
    )

    refused = slidereel("jobs", "cancel", "--video", video_id, job["job_id"], env=env)
    assert refused.returncode == ExitCode.BAD_INPUT and "error: JOB_NOT_CANCELABLE:" in refused.stderr
    unknown = slidereel("jobs", "show", "--video", video_id, "job-00000000-0000-0000-0000-000000000000", env=env)
    assert unknown.returncode == ExitCode.NOT_FOUND and "error: JOB_NOT_FOUND:" in unknown.stderr


def test_a_refused_token_exits_3(stack: Stack, script_file: Path) -> None:
    wrong = slidereel("jobs", "list", "--video", "v", "--base-url", stack.base_url, "--token", "not-a-token")
    assert wrong.returncode == ExitCode.AUTH and "error: UNAUTHORIZED:" in wrong.stderr

    viewer = slidereel("submit", str(script_file), "--video", new_video_id("cli"), env=as_user(stack, Role.VIEWER))
    assert viewer.returncode == ExitCode.AUTH and "error: FORBIDDEN:" in viewer.stderr


def test_an_unreachable_api_exits_5() -> None:
    result = slidereel("--json", "jobs", "list", "--video", "v", "--base-url", f"http://127.0.0.1:{free_port()}", "--token", "t")

    assert result.returncode == ExitCode.UNAVAILABLE
    assert json.loads(result.stderr)["error_code"] == "SERVICE_UNREACHABLE"


def test_without_a_token_the_host_signing_key_is_used_and_never_created(stack: Stack, tmp_path: Path) -> None:
    with_key = slidereel("jobs", "list", "--video", "v", "--base-url", stack.base_url, env=client_env(JWT_SECRET=stack.secret))
    assert with_key.returncode == ExitCode.OK, with_key.stderr

    data_dir = tmp_path / "data"
    keyless = slidereel(
        "jobs",
        "list",
        "--video",
        "v",
        "--base-url",
        stack.base_url,
        env=client_env(RENDER_JOB_DB_PATH=str(data_dir / "render_jobs.db")),
    )
    assert keyless.returncode == ExitCode.AUTH and "no token" in keyless.stderr
    assert not (data_dir / SECRET_FILE).exists()


def test_follow_resumes_after_the_connection_drops_without_losing_or_repeating_events(stack: Stack, tmp_path: Path) -> None:
    video_id = new_video_id("cli")
    with SeveringProxy(stack.port) as proxy, stack.client(timeout=30) as http:
        env = client_env(SLIDEREEL_URL=f"http://127.0.0.1:{proxy.port}", SLIDEREEL_TOKEN=stack.token(Role.APPROVER))
        follower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.cli",
                "submit",
                str(uncached_sample(tmp_path, video_id)),
                "--video",
                video_id,
                "--approve",
                "--follow",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        try:
            first_line = follower.stderr.readline()  # the follower is on the stream
            # Down from here until encoding: RENDER_SLIDES happens entirely while the follower
            # cannot connect, so only a resume after its last seq can show it.
            proxy.sever(refuse_new=True)
            job_id = wait_for_job_id(http, video_id)
            at_sever = http.get(f"/api/v2/videos/{video_id}/render-jobs/{job_id}").json()
            assert at_sever["step"] in (None, "VALIDATE_SCRIPT", "GENERATE_TTS"), f"the render outran the test: {at_sever}"
            encoding_or_later = {step.value for step in Step} - {"VALIDATE_SCRIPT", "GENERATE_TTS", "RENDER_SLIDES"}
            wait_for(http, video_id, job_id, lambda job: job["step"] in encoding_or_later, what="slides drawn")
            proxy.refuse_new = False
            stdout, rest = follower.communicate(timeout=240)
        finally:
            follower.kill()
            follower.wait()

    stderr = first_line + rest
    assert follower.returncode == ExitCode.OK, stderr
    assert "reconnecting to the progress stream" in stderr
    assert f"{job_id} SUCCEEDED" in stdout
    steps = [step.value for step in Step]
    shown = re.findall(r"\] RUNNING +([A-Z_]+) ", stderr)
    # Each step's line once and in order from where the follower joined: a resume from the start
    # would repeat steps, a resume from a fresh snapshot would skip RENDER_SLIDES.
    assert shown and shown == steps[steps.index(shown[0]) :], stderr


def wait_for_job_id(http: httpx.Client, video_id: str, timeout: float = 60) -> str:
    """The id of the video's first job, once the CLI under test has created it."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = http.get(f"/api/v2/videos/{video_id}/render-jobs").json().get("jobs", [])
        if jobs:
            return jobs[0]["job_id"]
        assert time.monotonic() < deadline, f"no job of {video_id} within {timeout} s"
        time.sleep(0.05)


class SeveringProxy:
    """A TCP relay to the API whose open connections the test can cut at once, as a network
    drop would; new connections keep working."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.refuse_new = False

    def __enter__(self) -> "SeveringProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self._listener.close()
        self.sever()

    def sever(self, refuse_new: bool = False) -> None:
        """Cuts every open connection; with `refuse_new`, also closes new ones at once until reset."""
        self.refuse_new = refuse_new
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.refuse_new:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
