"""`python -m services.renderer`: keeps RENDER_WORKERS worker processes alive.

Each worker is its own process (own GIL, own espeak-ng state, own sockets); one that dies is
started again under the same id, so the broker sees it come back rather than a stranger. A
worker that stops beating on its watchdog pipe (hung) or asks to be killed (a canceled render
that will not stop) is SIGKILLed and replaced. One that exits because the broker speaks
another bus protocol (EXIT_INCOMPATIBLE) would fail the same way every time: the whole pool
stops with that exit code instead.
"""

import logging
import os
import re
import select
import signal
import subprocess
import sys
import time

from libs.logs import configure_logging
from libs.storage import store_of
from services.renderer.settings import RendererSettings
from services.renderer.watchdog import EXIT_INCOMPATIBLE, WorkerWatch

log = logging.getLogger("services.renderer.supervisor")

POLL_SEC = 0.2
RESTART_DELAY_SEC = 0.5
STARTUP_GRACE_SEC = 10.0
STOP_GRACE_SEC = 5.0
WORKER_ID_MAX_LENGTH = 128
"""The API's worker_id columns are String(128); ZeroMQ routing ids allow 255 bytes."""
_WORKER_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""Host names (RFC 1123) and honcho's process names (renderer.1) fit."""


def worker_ids(prefix: str, count: int) -> list[str]:
    """One id per worker slot, unique per host (RENDER_WORKER_PREFIX or the host name) and the
    same across the slot's restarts: no pid in it, so a restarted worker is recognised."""
    ids = [f"{prefix}-w{index}" for index in range(count)]
    longest = max(map(len, ids), default=0)
    if not _WORKER_PREFIX.fullmatch(prefix) or longest > WORKER_ID_MAX_LENGTH:
        raise ValueError(
            f"worker id prefix {prefix!r} (RENDER_WORKER_PREFIX, else the host name) must be letters, digits, "
            f"'.', '_' or '-', starting with a letter or digit, and at most "
            f"{WORKER_ID_MAX_LENGTH - (longest - len(prefix))} characters"
        )
    return ids


class Supervisor:
    def __init__(self, settings: RendererSettings) -> None:
        self._ids = worker_ids(settings.worker_prefix, settings.workers)
        self._liveness = settings.heartbeat_interval * settings.heartbeat_liveness
        self._children: dict[str, subprocess.Popen] = {}
        self._watches: dict[str, WorkerWatch] = {}
        self._stopping = False
        self._exit_code = 0

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for worker_id in self._ids:
            self._spawn(worker_id)
        while not self._stopping:
            self._wait_for_beats()
            now = time.monotonic()
            for worker_id, child in list(self._children.items()):
                if self._stopping:
                    break
                if child.poll() is None and self._watches[worker_id].is_hung(now, self._liveness):
                    log.error("worker %s is hung or asked to be killed; killing pid %d", worker_id, child.pid)
                    child.kill()
                    child.wait()
                if child.returncode == EXIT_INCOMPATIBLE:
                    log.error(
                        "worker %s speaks another bus protocol than the broker; stopping every worker (exit code %d)",
                        worker_id,
                        EXIT_INCOMPATIBLE,
                    )
                    self._exit_code = EXIT_INCOMPATIBLE
                    self._stopping = True
                elif child.returncode is not None:
                    log.warning("worker %s exited with %s; restarting", worker_id, child.returncode)
                    time.sleep(RESTART_DELAY_SEC)
                    self._spawn(worker_id)
        self._shutdown()
        return self._exit_code

    def _wait_for_beats(self) -> None:
        by_fd = {watch.read_fd: watch for watch in self._watches.values()}
        try:
            readable, _, _ = select.select(list(by_fd), [], [], POLL_SEC)
        except InterruptedError:
            return
        now = time.monotonic()
        for fd in readable:
            by_fd[fd].read(now)

    def _spawn(self, worker_id: str) -> None:
        if worker_id in self._watches:
            self._watches.pop(worker_id).close()
        read_fd, write_fd = os.pipe()
        command = [sys.executable, "-m", "services.renderer.worker", "--worker-id", worker_id, "--watchdog-fd", str(write_fd)]
        self._children[worker_id] = subprocess.Popen(command, pass_fds=[write_fd])
        os.close(write_fd)
        self._watches[worker_id] = WorkerWatch(read_fd, time.monotonic(), STARTUP_GRACE_SEC)
        log.info("started worker %s (pid %d)", worker_id, self._children[worker_id].pid)

    def _stop(self, signum: int, _frame) -> None:
        self._stopping = True

    def _shutdown(self) -> None:
        for child in self._children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + STOP_GRACE_SEC
        for child in self._children.values():
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()


def main() -> None:
    settings = RendererSettings()
    configure_logging(settings.log_level, settings.log_format, service="renderer-supervisor")
    try:
        # Once here, so a bad ASSET_STORE stops the pool with its reason instead of every worker crashing.
        store_of(settings)
    except ValueError as error:
        sys.exit(f"renderer: {error}")
    sys.exit(Supervisor(settings).run())


if __name__ == "__main__":
    main()
