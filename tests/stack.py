"""Starts the real stack for tests: uvicorn serving the API and the renderer supervisor with
its worker processes, on free ports, over a temporary data folder."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Connection

from libs.tokens import Role, mint
from tests import job_store

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
TEST_WEBHOOK_SECRET = "whsec_c2xpZGVyZWVsLXRlc3Qtd2ViaG9vay1zZWNyZXQ="


_EPHEMERAL_PORTS = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_PORT = 10_000
_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, never handed out before in this run, and outside the
    range the kernel gives outgoing connections: a port from bind(0) can be taken by some
    client's connection (a renderer's, an HTTP client's) before the server meant for it binds
    it, which once failed a stack's start in a loaded run with "address already in use"."""
    low, high = map(int, _EPHEMERAL_PORTS.read_text().split()) if _EPHEMERAL_PORTS.exists() else (32768, 60999)
    candidates = [*range(_LOWEST_PORT, low), *range(high + 1, 65536)]
    for _ in range(1000):
        port = secrets.choice(candidates)
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port outside the ephemeral range")


@dataclass
class Stack:
    data_dir: Path
    port: int = field(default_factory=free_port)
    command_port: int = field(default_factory=free_port)
    event_port: int = field(default_factory=free_port)
    workers: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    capture_logs: bool = False
    """Write each process's output to `log_path(name)` instead of the test's terminal."""
    api_log_level: str = "warning"
    """uvicorn's `--log-level`: its access and WebSocket handshake lines show from "info"."""
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    address: str = "127.0.0.1"
    """The loopback address the API binds (a simulated host of its own: tests/hosts.py)."""
    launcher: list[str] = field(default_factory=list)
    """Put before each command: runs the processes as another Unix user (tests/hosts.py)."""
    database_url: str | None = field(default_factory=job_store.new_database_url)
    """DATABASE_URL: None for the API's SQLite file in `data_dir`, else the suite's PostgreSQL (tests/job_store.py)."""
    api: subprocess.Popen | None = None
    renderer: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.address}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.address}:{self.port}"

    def token(self, role: Role = Role.ADMIN, subject: str = "tests") -> str:
        return mint(self.secret, subject, role, timedelta(hours=1))

    def client(self, role: Role = Role.ADMIN, **options) -> httpx.Client:
        """An HTTP client of the API carrying a bearer token of `role`."""
        headers = {"Authorization": f"Bearer {self.token(role)}", **options.pop("headers", {})}
        return httpx.Client(base_url=self.base_url, headers=headers, **options)

    def progress_url(self, video_id: str, query: str = "", role: Role = Role.ADMIN) -> str:
        """The progress WebSocket of `video_id`; `query` like "?job_id=…", plus the token."""
        separator = "&" if query else "?"
        return f"{self.ws_url}/ws/videos/{video_id}/render-progress{query}{separator}token={self.token(role)}"

    @property
    def asset_dir(self) -> Path:
        return self.data_dir / "assets"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "RENDER_JOB_DB_PATH": str(self.data_dir / "render_jobs.db"),
            "ASSET_DIR": str(self.asset_dir),
            "PUBLIC_BASE_URL": self.base_url,
            "RENDER_COMMAND_ENDPOINT": f"tcp://{self.address}:{self.command_port}",
            "RENDER_EVENT_ENDPOINT": f"tcp://{self.address}:{self.event_port}",
            "RENDER_WORKERS": str(self.workers),
            "JWT_SECRET": self.secret,
            # A shared job table needs the secrets set, not generated per host (SPEC §6).
            **({"DATABASE_URL": self.database_url, "WEBHOOK_SECRET": TEST_WEBHOOK_SECRET} if self.database_url else {}),
            **self.extra_env,
        }

    def job_table(self) -> AbstractContextManager[Connection]:
        """The test's own connection to the API's job table (tests/job_store.py)."""
        return job_store.job_table(self.database_url, self.data_dir)

    def log_path(self, process: str) -> Path:
        """Where `capture_logs` puts the output of "api" or "renderer" (appended across restarts)."""
        return self.data_dir / f"{process}.log"

    def _spawn(self, process: str, command: list[str]) -> subprocess.Popen:
        command = [*self.launcher, *command]
        if not self.capture_logs:
            return subprocess.Popen(command, cwd=self.data_dir, env=self.env)
        # The child keeps its own copy of the descriptor once started.
        with self.log_path(process).open("ab") as log:
            return subprocess.Popen(command, cwd=self.data_dir, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def start_api(self) -> None:
        self.api = self._spawn(
            "api",
            [
                sys.executable,
                "-m",
                "uvicorn",
                "services.api.app:create_app",
                "--factory",
                "--host",
                self.address,
                "--port",
                str(self.port),
                "--log-level",
                self.api_log_level,
            ],
        )

    def kill_api(self) -> None:
        """SIGKILL: no shutdown hooks, no goodbyes; sockets and transactions just vanish."""
        self.api.kill()
        self.api.wait()

    def start_renderer(self) -> None:
        self.renderer = self._spawn("renderer", [sys.executable, "-m", "services.renderer"])

    def worker_pids(self) -> dict[str, int]:
        """Worker id -> pid of the renderer supervisor's live worker processes."""
        children = Path(f"/proc/{self.renderer.pid}/task/{self.renderer.pid}/children").read_text().split()
        pids = {}
        for pid in map(int, children):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except FileNotFoundError:
                continue
            if b"--worker-id" in argv:
                pids[argv[argv.index(b"--worker-id") + 1].decode()] = pid
        return pids

    def wait_alive(self, timeout: float = 30.0) -> None:
        """The API answers /healthz (renderers may not be connected yet)."""
        self._wait_for("/healthz", timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        """/readyz: the database answers and at least one renderer worker is connected."""
        self._wait_for("/readyz", timeout)

    def wait_all_workers(self, timeout: float = 60.0) -> None:
        """Every one of the pool's workers has said Ready to the broker, not just the first."""
        deadline = time.monotonic() + timeout
        while httpx.get(f"{self.base_url}/readyz", timeout=2).json()["renderers"] < self.workers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.workers} renderer workers did not connect within {timeout:.0f} s")
            time.sleep(0.1)

    @contextmanager
    def running(self) -> Iterator["Stack"]:
        """The API and the whole renderer pool up and connected; both stopped on the way out."""
        self.start_api()
        self.start_renderer()
        try:
            self.wait_ready()
            self.wait_all_workers()
            yield self
        finally:
            self.stop()

    @contextmanager
    def running_api(self) -> Iterator["Stack"]:
        """The API alone, answering; no renderer, so its jobs stay PENDING. Stopped on the way out."""
        self.start_api()
        try:
            self.wait_alive()
            yield self
        finally:
            self.stop()

    def _wait_for(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for process in (self.api, self.renderer):
                if process is not None and process.poll() is not None:
                    raise RuntimeError(f"{process.args} exited with {process.returncode}")
            try:
                if httpx.get(f"{self.base_url}{path}", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not answer 200 within {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        for process in (self.renderer, self.api):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in (self.renderer, self.api):
            if process is not None:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
