"""The renderer supervisor keeps RENDER_WORKERS worker processes alive."""

import os
import signal
import time

import httpx


def test_a_killed_worker_is_replaced_and_reconnects(stack):
    before = set(stack.worker_pids().values())
    assert len(before) == stack.workers
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while True:
        after = set(stack.worker_pids().values())
        ready = httpx.get(f"{stack.base_url}/readyz").json()
        if len(after) == stack.workers and victim not in after and ready["renderers"] == stack.workers:
            break
        assert time.monotonic() < deadline, (after, ready)
        time.sleep(0.2)
    assert stack.renderer.poll() is None, "the supervisor itself must survive"
