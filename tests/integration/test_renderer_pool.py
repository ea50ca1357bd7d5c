"""The renderer supervisor keeps RENDER_WORKERS worker processes alive."""

import os
import signal
import time
from pathlib import Path

import httpx


def worker_pids(supervisor_pid: int) -> set[int]:
    children = Path(f"/proc/{supervisor_pid}/task/{supervisor_pid}/children").read_text().split()
    return {int(pid) for pid in children}


def test_a_killed_worker_is_replaced_and_reconnects(stack):
    before = worker_pids(stack.renderer.pid)
    assert len(before) == stack.workers
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:
        after = worker_pids(stack.renderer.pid)
        ready = httpx.get(f"{stack.base_url}/readyz").json()
        if len(after) == stack.workers and victim not in after and ready["renderers"] == stack.workers:
            break
        assert time.monotonic() < deadline, (after, ready)
        time.sleep(0.2)
    assert stack.renderer.poll() is None, "the supervisor itself must survive"
