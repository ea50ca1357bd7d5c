"""WebSocket faults (research/reliability.md §6 item 7, SPEC §3): a client dropped and
reconnected with `last_seq` 100 times mid-render sees every stored event exactly once; a client
that stops reading is closed with 4008 after a bounded backlog while another keeps up, and the
API's memory stays flat."""

import contextlib
import json
import random
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import zmq
from sqlalchemy import text
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from libs.contracts.bus import (
    Disconnect,
    Heartbeat,
    JobFinished,
    Outcome,
    Progress,
    Ready,
    Render,
    RenderedAssets,
    RunningJob,
    api_command_codec,
    progress_codec,
    renderer_codec,
)
from libs.contracts.codes import Step
from services.api.progress.ws import SLOW_CONSUMER_CLOSE
from tests.client import TERMINAL, scrape, value
from tests.faults.conftest import FaultStack
from tests.faults.fake_renderer import bus_sockets
from tests.faults.jobs import REFERENCE, submit

CYCLES = 100
BACKLOG = 20
PADDING = "x" * 32_000
"""~32 KB events: the kernel buffers of a client that does not read fill with ~100 of them,
and a backlog that grew without bound would show in the API's RSS."""
LAG_BOUND = BACKLOG + (int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2]) + 2**16) // len(PADDING) + 2 + 16
"""The most events a client that stops reading can be sent: the backlog, plus what fits in the
server's largest kernel send buffer and asyncio's write high-water mark (with the write that
crosses it and the one in flight), plus the websockets client's receive queue."""
FLOOD = 6 * LAG_BOUND
"""Enough that a backlog without a bound would grow the API's RSS by more than the test allows."""


def query(stack: FaultStack, sql: str, **params: object) -> list[tuple]:
    """Reads the API's database directly (SQLite's WAL, or PostgreSQL: the API's writes never wait for it)."""
    with stack.job_table() as db:
        return [tuple(row) for row in db.execute(text(sql), params)]


def stored_events(stack: FaultStack, job_id: str) -> list[tuple[int, str]]:
    return query(stack, "SELECT seq, status FROM job_events WHERE job_id = :job_id ORDER BY seq", job_id=job_id)


def renderer_seq(stack: FaultStack, job_id: str) -> int:
    return query(stack, "SELECT renderer_seq FROM render_jobs WHERE job_id = :job_id", job_id=job_id)[0][0]


def progress_url(stack: FaultStack, video_id: str, job_id: str, last_seq: int) -> str:
    return stack.progress_url(video_id, f"?job_id={job_id}&last_seq={last_seq}")


def cut(ws: ClientConnection) -> None:
    """Leaves the way a crashed client or a cut cable does: no close frame, and a reset."""
    # After the terminal event the server may have closed it, and websockets the socket, first.
    with contextlib.suppress(OSError):
        ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ws.socket.shutdown(socket.SHUT_RDWR)
    ws.socket.close()


@pytest.mark.parametrize("fault_stack", [{"renderer": False}], indirect=True)
def test_a_hundred_reconnects_mid_render_see_every_event_once(fault_stack):
    # The test plays the renderer, one progress event per reconnect, so the job stays RUNNING
    # for as many cycles as it takes however slow the machine: a real render could end first.
    with fault_stack.client(timeout=30) as http:
        video_id, job_id = submit(fault_stack, http, REFERENCE, "storm")
    context = zmq.Context()
    try:
        dealer, pub, render = play_renderer(context, fault_stack)
        commands, progress = api_command_codec(), progress_codec()
        rng = random.Random()
        received: list[tuple[int, str]] = []
        cycles_while_running, finished = 0, False
        while not received or received[-1][1] not in TERMINAL:
            if cycles_while_running < CYCLES:
                # Renderer seqs the PUB/SUB slow joiner drops leave no gap: the API numbers what it stores.
                pub.send(
                    progress.encode(
                        Progress(
                            job_id=render.job_id,
                            video_id=render.video_id,
                            attempt=render.attempt,
                            seq=cycles_while_running + 1,
                            step=Step.RENDER_SLIDES,
                            progress=cycles_while_running * 90 // CYCLES,
                            ts=time.time(),
                        )
                    )
                )
                dealer.send(commands.encode(Heartbeat(running_job=RunningJob(job_id=render.job_id, attempt=render.attempt))))
            elif not finished:
                dealer.send(
                    commands.encode(
                        JobFinished(
                            job_id=render.job_id,
                            attempt=render.attempt,
                            outcome=Outcome.SUCCEEDED,
                            assets=RenderedAssets(duration_sec=1.0),
                        )
                    )
                )
                finished = True
            with connect(progress_url(fault_stack, video_id, job_id, received[-1][0] if received else 0), open_timeout=10) as ws:
                try:
                    connected, snapshot = json.loads(ws.recv(timeout=10)), json.loads(ws.recv(timeout=10))
                    assert (connected["type"], snapshot["type"]) == ("connected", "snapshot")
                    cycles_while_running += snapshot["status"] == "RUNNING"
                    # A few events, or as many as arrive in a few milliseconds, then gone mid-stream.
                    deadline = time.monotonic() + rng.uniform(0.0, 0.03)
                    for _ in range(rng.randint(0, 4)):
                        event = json.loads(ws.recv(timeout=max(0.0, deadline - time.monotonic())))
                        received.append((event["seq"], event["status"]))
                except TimeoutError:
                    pass
                except ConnectionClosed:
                    assert received and received[-1][1] in TERMINAL, "only the end of the job closes the stream"
                finally:
                    cut(ws)
        dealer.send(commands.encode(Disconnect()))
    finally:
        context.destroy(linger=0)

    assert cycles_while_running >= CYCLES
    assert [seq for seq, _ in received] == list(range(1, len(received) + 1)), "a gap or a duplicate"
    assert received == stored_events(fault_stack, job_id)
    assert received[-1][1] == "SUCCEEDED"
    print(f"{cycles_while_running} reconnects while RUNNING, {len(received)} events")


def play_renderer(context: zmq.Context, stack: FaultStack) -> tuple[zmq.Socket, zmq.Socket, Render]:
    """Joins the real bus as one renderer worker and takes the next job."""
    dealer, pub = bus_sockets(context, stack, "fake-w0")
    dealer.setsockopt(zmq.RCVTIMEO, 10_000)
    dealer.send(api_command_codec().encode(Ready(worker_id="fake-w0", engines=["espeak"])))
    decode = renderer_codec().decode
    while not isinstance(command := decode(dealer.recv()), Render):
        pass
    return dealer, pub, command


def flood(stack: FaultStack, dealer: zmq.Socket, pub: zmq.Socket, render: Render, count: int) -> None:
    """Far more progress than a render reports, then success."""
    commands, progress = api_command_codec(), progress_codec()
    running = Heartbeat(running_job=RunningJob(job_id=render.job_id, attempt=render.attempt))
    steps = list(Step)
    time.sleep(0.3)  # PUB/SUB slow joiner: the first events after connect may be dropped
    for seq in range(1, count + 1):
        pub.send(
            progress.encode(
                Progress(
                    job_id=render.job_id,
                    video_id=render.video_id,
                    attempt=render.attempt,
                    seq=seq,
                    step=steps[seq % len(steps)],
                    progress=seq * 100 // count,
                    message=PADDING,
                    ts=time.time(),
                )
            )
        )
        if seq % len(steps) == 0 or seq == count:
            dealer.send(commands.encode(running))
            # The broker keeps one event per step of each burst it reads: sending one round of
            # every step at a time, once the last is stored, makes each message an event and
            # keeps the API from being swamped (2 s: PUB/SUB may drop the one waited for).
            deadline = time.monotonic() + 2
            while renderer_seq(stack, render.job_id) < seq and time.monotonic() < deadline:
                time.sleep(0.002)
    dealer.send(
        commands.encode(
            JobFinished(
                job_id=render.job_id, attempt=render.attempt, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=1.0)
            )
        )
    )
    dealer.send(commands.encode(Disconnect()))


def not_reading(stack: FaultStack, url: str) -> ClientConnection:
    """A client with a tiny receive buffer and no compression (which would shrink the padding to
    nothing), so that the server's sends block soon after it stops reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", stack.port))
    return connect(url, sock=sock, compression=None, open_timeout=10)


def wait_until_no_stream_is_open(stack: FaultStack, timeout: float = 120) -> None:
    """The API's progress handlers have all ended: for a client that never read its close frame,
    after the server waited CLOSE_TIMEOUT_SEC for it and gave up."""
    deadline = time.monotonic() + timeout
    while value(scrape(stack), "slidereel_websocket_clients") > 0:
        assert time.monotonic() < deadline, f"a progress stream was still open after {timeout:.0f} s"
        time.sleep(0.1)


def drain(ws: ClientConnection, passed: threading.Event | None = None) -> tuple[list[tuple[dict, float]], int]:
    """Every message with its arrival time until the server ends the connection, and the close
    code (1006: ended without a close frame). Sets `passed` once the stream is past `LAG_BOUND`."""
    messages = []
    with ws:
        try:
            while True:
                message = json.loads(ws.recv(timeout=60))
                messages.append((message, time.time()))
                if passed and message.get("seq", 0) > LAG_BOUND:
                    passed.set()
        except ConnectionClosed:
            return messages, ws.close_code


def seqs(messages: list[tuple[dict, float]]) -> list[int]:
    return [message["seq"] for message, _ in messages if message["type"] == "progress"]


def memory_mb(pid: int, field: str) -> float:
    """`VmRSS`: resident now; `VmHWM`: the most it has ever been."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(status[field].split()[0]) / 1024


@pytest.mark.parametrize("fault_stack", [{"renderer": False, "env": {"WS_MAX_BACKLOG": str(BACKLOG)}}], indirect=True)
def test_a_client_that_stops_reading_is_closed_while_another_keeps_up(fault_stack):
    with fault_stack.client(timeout=30) as http:
        video_id, job_id = submit(fault_stack, http, REFERENCE, "slow")
    context = zmq.Context()
    try:
        dealer, pub, render = play_renderer(context, fault_stack)
        url = progress_url(fault_stack, video_id, job_id, 0)
        live, slow, stuck = connect(url, open_timeout=10), not_reading(fault_stack, url), not_reading(fault_stack, url)
        rss_before = memory_mb(fault_stack.api.pid, "VmRSS")
        past_bound = threading.Event()
        with ThreadPoolExecutor(max_workers=4) as pool:
            flooding = pool.submit(flood, fault_stack, dealer, pub, render, FLOOD)
            live_read = pool.submit(drain, live, past_bound)
            # Past the bound, `slow` reads again while the server still waits to deliver its
            # close frame; `stuck` only after the server gave up on that.
            assert past_bound.wait(60), "the reading client fell silent"
            slow_read = pool.submit(drain, slow)
            flooding.result()
            # The live client got the whole flood and its end while `stuck` had not read a byte:
            # a client that stops reading holds up no one else.
            (live_messages, live_code), (slow_messages, slow_code) = live_read.result(), slow_read.result()
            wait_until_no_stream_is_open(fault_stack)
            stuck_messages, stuck_code = pool.submit(drain, stuck).result()
        rss_peak = memory_mb(fault_stack.api.pid, "VmHWM")
    finally:
        context.destroy(linger=0)

    stored = [seq for seq, _ in stored_events(fault_stack, job_id)]
    delays = sorted(
        arrival - datetime.fromisoformat(message["timestamp"]).timestamp()
        for message, arrival in live_messages
        if message["type"] == "progress"
    )
    p99 = delays[int(len(delays) * 0.99)]
    print(
        f"{len(stored)} events, bound {LAG_BOUND}; slow got {len(seqs(slow_messages))}, close {slow_code}; "
        f"stuck got {len(seqs(stuck_messages))}, close {stuck_code}; live p99 {p99 * 1000:.0f} ms; "
        f"API RSS {rss_before:.0f} MB, peak {rss_peak:.0f} MB"
    )
    assert len(stored) > 2 * LAG_BOUND, "the flood must far outgrow what a client's buffers hold"
    assert live_code == 1000 and seqs(live_messages) == stored, "the reading client gets every event"
    assert (slow_code, stuck_code) == (SLOW_CONSUMER_CLOSE, 1006), "1006: the server gave up on a close it could not deliver"
    for got in (seqs(slow_messages), seqs(stuck_messages)):
        assert got == list(range(1, len(got) + 1)), "a lagging client gets a gap-free prefix to resume from"
        assert len(got) <= LAG_BOUND
    assert rss_peak - rss_before < 20
