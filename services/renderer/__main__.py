"""`python -m services.renderer`: keeps RENDER_WORKERS worker processes alive.

Each worker is its own process (own GIL, own espeak-ng state, own sockets); one that dies is
started again under the same id, so the broker sees it come back rather than a stranger.
"""

import logging
import os
import signal
import socket
import subprocess
import sys
import time

from services.renderer.settings import RendererSettings

log = logging.getLogger("services.renderer.supervisor")

POLL_SEC = 0.2
RESTART_DELAY_SEC = 0.5
STOP_GRACE_SEC = 5.0


class Supervisor:
    def __init__(self, settings: RendererSettings) -> None:
        prefix = os.environ.get("HONCHO_PROCESS_NAME") or f"{socket.gethostname()}-{os.getpid()}"
        self._ids = [f"{prefix}-w{index}" for index in range(settings.workers)]
        self._children: dict[str, subprocess.Popen] = {}
        self._stopping = False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for worker_id in self._ids:
            self._spawn(worker_id)
        while not self._stopping:
            for worker_id, child in list(self._children.items()):
                if child.poll() is not None and not self._stopping:
                    log.warning("worker %s exited with %s; restarting", worker_id, child.returncode)
                    time.sleep(RESTART_DELAY_SEC)
                    self._spawn(worker_id)
            time.sleep(POLL_SEC)
        self._shutdown()
        return 0

    def _spawn(self, worker_id: str) -> None:
        command = [sys.executable, "-m", "services.renderer.worker", "--worker-id", worker_id]
        self._children[worker_id] = subprocess.Popen(command)
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s supervisor: %(message)s")
    sys.exit(Supervisor(RendererSettings()).run())


if __name__ == "__main__":
    main()
