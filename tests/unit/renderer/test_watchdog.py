"""The supervisor's watch over a worker, through a real pipe."""

import os
import time

from libs.contracts.bus import OutputSpec, Render
from libs.contracts.script import Scene, Script
from services.renderer.settings import RendererSettings
from services.renderer.watchdog import KILL_ME, SupervisorLink, WorkerWatch
from services.renderer.worker import CurrentRender, Worker

LIVENESS = 3.0


def pipe() -> tuple[WorkerWatch, SupervisorLink, int]:
    read_fd, write_fd = os.pipe()
    return WorkerWatch(read_fd, started_at=0.0, startup_grace=0.0), SupervisorLink(write_fd), write_fd


def test_beats_keep_a_worker_alive_and_silence_marks_it_hung():
    watch, link, write_fd = pipe()
    try:
        link.beat()
        watch.read(now=10.0)
        assert not watch.is_hung(now=12.9, liveness=LIVENESS)
        assert watch.is_hung(now=13.1, liveness=LIVENESS)
    finally:
        watch.close()
        os.close(write_fd)


def test_a_worker_that_asks_to_be_killed_is_hung_even_while_beating():
    watch, link, write_fd = pipe()
    try:
        link.beat()
        link.ask_to_be_killed()
        watch.read(now=1.0)
        assert watch.is_hung(now=1.0, liveness=LIVENESS)
    finally:
        watch.close()
        os.close(write_fd)


def test_worker_asks_to_be_killed_only_after_the_cancel_grace(tmp_path):
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    settings = RendererSettings(asset_dir=tmp_path, cancel_grace_sec=5.0)
    worker = Worker("unit-w0", settings, SupervisorLink(write_fd))
    script = Script(title="t", scenes=[Scene(narration="x")])
    current = CurrentRender(job=Render(job_id="j", video_id="v", attempt=1, script=script, output=OutputSpec(storage_key="v/j")))
    worker._current = current
    try:
        current.cancel_requested_at = time.monotonic() - 1.0
        worker._watch_cancel()
        assert _pending(read_fd) == b""
        current.cancel_requested_at = time.monotonic() - 6.0
        worker._watch_cancel()
        assert KILL_ME in _pending(read_fd)
    finally:
        worker._context.destroy(linger=0)
        os.close(read_fd)
        os.close(write_fd)


def _pending(fd: int) -> bytes:
    try:
        return os.read(fd, 64)
    except BlockingIOError:
        return b""
