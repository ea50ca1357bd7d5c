"""The job table stalls: while four renders run, another process holds its write lock for 8 s
(SQLite: BEGIN EXCLUSIVE; PostgreSQL: LOCK TABLE … IN ACCESS EXCLUSIVE MODE). Liveness never
waits for the database, so no worker is declared lost, no render runs twice, the broker's
heartbeats keep their pace, /healthz keeps answering at once, and every job ends SUCCEEDED
once the lock is gone (its outcome stored then, and acknowledged only then)."""

import itertools
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime

import httpx
import pytest
from sqlalchemy import text

from libs.contracts.bus import Heartbeat, Ready
from tests.client import wait_running, wait_terminal
from tests.faults.fake_renderer import HEARTBEAT_SEC, bus_sockets, zmq_context
from tests.faults.jobs import script_of, submit
from tests.faults.scripted_peer import COMMANDS, REPLIES
from tests.job_store import SQLITE, sync_url

STALL_SEC = 8.0
RENDERS = 4
HEARTBEAT_GAP_MAX_SEC = 1.5
HEALTHZ_MAX_SEC = 0.1
PROBE = "stall-probe"
"""A peer that offers an engine no job needs: it gets no work and notes the broker's heartbeats."""
SMALL_FRAMES = {"RENDER_RESOLUTION": "640x360"}


class HeartbeatProbe(threading.Thread):
    """Registers as a worker, heartbeats like one, and notes when each broker heartbeat arrives."""

    def __init__(self, context, stack) -> None:
        super().__init__(name=PROBE, daemon=True)
        self._dealer, _ = bus_sockets(context, stack, PROBE)
        self.heard: list[float] = []
        self.stop = threading.Event()
        self.heard_after = threading.Event()
        """Set once a heartbeat came after the moment `mark` names."""
        self._after = float("inf")

    def mark(self, moment: float) -> bool:
        """Asks to be told (`heard_after`) of the first heartbeat after `moment`; False if one came already."""
        self._after = moment
        return not any(heard > moment for heard in self.heard)

    def run(self) -> None:
        self._dealer.send(COMMANDS.encode(Ready(worker_id=PROBE, engines=["stall-probe"])))
        next_beat = time.monotonic()
        while not self.stop.is_set():
            if time.monotonic() >= next_beat:
                self._dealer.send(COMMANDS.encode(Heartbeat(engines=["stall-probe"])))
                next_beat += HEARTBEAT_SEC
            if self._dealer.poll(50) and isinstance(REPLIES.decode(self._dealer.recv()), Heartbeat):
                self.heard.append(now := time.monotonic())
                if now > self._after:
                    self.heard_after.set()

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without a broker heartbeat between `start` and `end`."""
        marks = [start, *(moment for moment in self.heard if start < moment < end), end]
        return max(later - earlier for earlier, later in itertools.pairwise(marks))


class HealthzWatch(threading.Thread):
    """Asks /healthz again and again and keeps the slowest answer."""

    def __init__(self, stack) -> None:
        super().__init__(name="healthz", daemon=True)
        self._stack = stack
        self.slowest = 0.0
        self.asked = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self._stack.base_url, timeout=10) as http:
            while not self.stop.is_set():
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.asked += 1
                self.stop.wait(0.05)


def parse(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


@contextmanager
def write_lock_held(stack):
    """The job table's write lock, held by this test process's own connection until the block ends."""
    url = sync_url(stack.database_url, stack.data_dir)
    if url.startswith(SQLITE):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            yield
            connection.execute("COMMIT")
        finally:
            connection.close()
    else:
        with stack.job_table() as db:
            db.execute(text("LOCK TABLE render_jobs IN ACCESS EXCLUSIVE MODE"))
            yield


@pytest.mark.parametrize("fault_stack", [{"workers": RENDERS, "env": SMALL_FRAMES}], indirect=True)
def test_a_stalled_job_table_loses_no_worker_and_repeats_no_render(fault_stack):
    script = {**script_of(36), "voice": "espeak"}  # a job the probe, which offers no espeak, never gets
    with zmq_context() as context, fault_stack.client(timeout=60) as http:
        probe, healthz = HeartbeatProbe(context, fault_stack), HealthzWatch(fault_stack)
        probe.start()
        jobs = [submit(fault_stack, http, script, "stall") for _ in range(RENDERS)]
        for video_id, job_id in jobs:
            wait_running(http, video_id, job_id, step="RENDER_SLIDES")
        workers = fault_stack.worker_pids()

        healthz.start()
        with write_lock_held(fault_stack):
            stalled_from, locked_at = time.monotonic(), time.time()
            time.sleep(STALL_SEC)  # the fault itself: the lock is held this long
        stalled_until = time.monotonic()
        healthz.stop.set()
        healthz.join()

        ended = [wait_terminal(http, video_id, job_id, timeout=300) for video_id, job_id in jobs]
        # Until a whole liveness period after the stall: a worker judged lost for it is gone by then.
        watched_until = stalled_until + 3 * HEARTBEAT_SEC
        assert probe.heard_after.wait(60) if probe.mark(watched_until) else True, "the broker stopped heartbeating the probe"
        gap = probe.longest_gap(stalled_from, watched_until)
        probe.stop.set()
        probe.join()
        ready = http.get("/readyz").json()

    assert [(job["status"], job["attempt"], len(job["attempts"])) for job in ended] == [("SUCCEEDED", 1, 1)] * RENDERS, (
        "a render ran twice or a worker was declared lost"
    )
    assert all(parse(job["finished_at"]) > locked_at for job in ended), "a render ended before the stall began"
    assert gap <= HEARTBEAT_GAP_MAX_SEC, f"the broker's heartbeats paused {gap:.2f} s while the job table was locked"
    assert healthz.asked > STALL_SEC / 0.5 and healthz.slowest <= HEALTHZ_MAX_SEC, (
        f"/healthz took {healthz.slowest * 1000:.0f} ms at worst ({healthz.asked} asked)"
    )
    assert ready["renderers"] == RENDERS + 1 and fault_stack.worker_pids() == workers, "a worker was lost or replaced"
    print(
        f"\ndatabase stall of {STALL_SEC:.0f} s: longest heartbeat gap {gap:.2f} s, slowest /healthz "
        f"{healthz.slowest * 1000:.0f} ms of {healthz.asked}, every job SUCCEEDED at attempt 1"
    )
