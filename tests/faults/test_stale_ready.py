"""A worker says Ready again whenever it re-creates its command socket, and that Ready can reach
the broker after the broker sent it a Render (seen on a loaded machine at start-up: the
attempt was failed WORKER_LOST and rendered twice). A scripted peer plays both cases against
the real API: an old Ready of the same worker process keeps the attempt; a Ready of a new
process (a restart under the same id) has lost it."""

import time

import pytest

from libs.contracts.bus import (
    Heartbeat, JobFinished, Outcome, Ready, Render, RenderedAssets, api_command_codec, renderer_codec,
)
from tests.client import approved_script, new_video_id, start_render, wait_terminal
from tests.faults.fake_renderer import SLOW_JOINER_SEC, bus_sockets, zmq_context
from tests.integration.test_render_jobs_api import SHORT_SCRIPT

COMMANDS, REPLIES = api_command_codec(), renderer_codec()
PEER = "stale-ready-w0"


def next_render(dealer, timeout_ms: int = 30_000) -> Render:
    """The next Render the broker sends, answering its heartbeats meanwhile so it keeps the peer."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if dealer.poll(200):
            message = REPLIES.decode(dealer.recv())
            if isinstance(message, Render):
                return message
        dealer.send(COMMANDS.encode(Heartbeat(renders_received=0)))
    raise AssertionError("no Render came")


def peer_with_a_render(context, stack, http, peer: str, incarnation: str) -> tuple:
    """A scripted peer that said Ready, and the Render of a job started for it: (dealer, video_id, render)."""
    dealer, _ = bus_sockets(context, stack, peer)
    time.sleep(SLOW_JOINER_SEC)
    dealer.send(COMMANDS.encode(Ready(worker_id=peer, engines=["espeak"], incarnation=incarnation)))
    video_id = new_video_id(peer)
    job_id = start_render(http, video_id, approved_script(http, video_id, SHORT_SCRIPT))["job_id"]
    stack.accepted.add(job_id)
    return dealer, video_id, next_render(dealer)


@pytest.mark.parametrize("fault_stack", [{"renderer": False}], indirect=True)
@pytest.mark.parametrize(("second_incarnation", "expected"), [
    ("process-1", ("SUCCEEDED", 1)),  # the same process, its Ready older than the Render: kept
    ("process-2", ("FAILED", 1)),  # another process under the id: attempt 1 lost, then refused
])
def test_a_ready_sent_before_the_render_arrived_keeps_the_attempt(fault_stack, second_incarnation, expected):
    with zmq_context() as context, fault_stack.client(timeout=30) as http:
        dealer, video_id, render = peer_with_a_render(context, fault_stack, http, PEER, "process-1")
        # Read only now, written before the Render arrived: no job, no Render received.
        dealer.send(COMMANDS.encode(Ready(worker_id=PEER, engines=["espeak"], incarnation=second_incarnation)))
        outcome = JobFinished(job_id=render.job_id, attempt=render.attempt, outcome=Outcome.SUCCEEDED,
                              assets=RenderedAssets(duration_sec=1.0))
        dealer.send(COMMANDS.encode(outcome))
        if second_incarnation != "process-1":
            # The retry goes to the "restarted" peer, which fails it for good.
            retry = next_render(dealer)
            dealer.send(COMMANDS.encode(JobFinished(job_id=retry.job_id, attempt=retry.attempt, outcome=Outcome.FAILED,
                                                    retryable=False, error_message="gave up")))
        job = wait_terminal(http, video_id, render.job_id)
    first = job["attempts"][0]
    assert (job["status"], first["attempt"]) == expected, job
    if second_incarnation == "process-1":
        assert job["attempt"] == 1 and first["outcome"] == "SUCCEEDED", job
    else:
        assert first["error_code"] == "WORKER_LOST" and job["attempt"] == 2, job
