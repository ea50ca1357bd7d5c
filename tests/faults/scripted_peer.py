"""A renderer peer the test scripts message by message, for faults that need one exact order of
bus messages against the real API (stale Readies, a frozen API, a lagging broker inbox)."""

import time
from typing import TypeVar

import httpx

from libs.contracts.bus import (
    Heartbeat,
    JobFinished,
    Outcome,
    Ready,
    Render,
    RenderedAssets,
    api_command_codec,
    renderer_codec,
)
from tests.client import approved_script, job, new_video_id, start_render
from tests.faults.fake_renderer import SLOW_JOINER_SEC, bus_sockets
from tests.integration.test_render_jobs_api import SHORT_SCRIPT

COMMANDS, REPLIES = api_command_codec(), renderer_codec()
Reply = TypeVar("Reply")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")


def next_render(dealer, timeout_ms: int = 30_000) -> Render:
    """The next Render the broker sends, answering its heartbeats meanwhile so it keeps the peer."""
    return next_reply(dealer, Render, timeout_ms)


def next_reply(dealer, kind: type[Reply], timeout_ms: int = 30_000) -> Reply:
    """The next message of `kind` the broker sends, heartbeating meanwhile as an idle peer."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if dealer.poll(200):
            message = REPLIES.decode(dealer.recv())
            if isinstance(message, kind):
                return message
        dealer.send(COMMANDS.encode(Heartbeat(renders_received=0)))
    raise AssertionError(f"no {kind.__name__} came")


def peer_with_a_render(context, stack, http, peer: str, incarnation: str) -> tuple:
    """A scripted peer that said Ready, and the Render of a job started for it: (dealer, pub, video_id, render)."""
    dealer, pub = bus_sockets(context, stack, peer)
    time.sleep(SLOW_JOINER_SEC)
    dealer.send(COMMANDS.encode(Ready(worker_id=peer, engines=["espeak"], incarnation=incarnation)))
    video_id = new_video_id(peer)
    job_id = start_render(http, video_id, approved_script(http, video_id, SHORT_SCRIPT))["job_id"]
    stack.accepted.add(job_id)
    return dealer, pub, video_id, next_render(dealer)


def finished(render: Render) -> bytes:
    """The encoded JobFinished(SUCCEEDED) of `render`'s attempt."""
    return COMMANDS.encode(
        JobFinished(
            job_id=render.job_id, attempt=render.attempt, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=1.0)
        )
    )


def play_until_settled(dealer, http: httpx.Client, video_id: str, render: Render) -> dict:
    """Plays an idle worker that finishes every Render it gets, until the job is terminal, and
    returns the job. A retry (the defect these tests look for) is rendered too, so the test
    ends with a terminal job either way and its assertion says what happened."""
    give_up_at = time.monotonic() + 120
    while (settled := job(http, video_id, render.job_id))["status"] not in TERMINAL:
        assert time.monotonic() < give_up_at, f"the job never settled: {settled}"
        if dealer.poll(200) and isinstance(message := REPLIES.decode(dealer.recv()), Render):
            dealer.send(finished(message))
        dealer.send(COMMANDS.encode(Heartbeat(renders_received=1)))
    return settled
