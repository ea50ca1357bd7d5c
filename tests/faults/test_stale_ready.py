"""A worker says Ready again whenever it re-creates its command socket, and that Ready can reach
the broker after the broker sent it a Render (seen on a loaded machine at start-up: the
attempt was failed WORKER_LOST and rendered twice). A scripted peer plays both cases against
the real API: an old Ready of the same worker process keeps the attempt; a Ready of a new
process (a restart under the same id) has lost it."""

import pytest

from libs.contracts.bus import JobFinished, Outcome, Ready
from tests.client import wait_terminal
from tests.faults.fake_renderer import zmq_context
from tests.faults.scripted_peer import COMMANDS, finished, next_render, peer_with_a_render

PEER = "stale-ready-w0"


@pytest.mark.parametrize("fault_stack", [{"renderer": False}], indirect=True)
@pytest.mark.parametrize(("second_incarnation", "expected"), [
    ("process-1", ("SUCCEEDED", 1)),  # the same process, its Ready older than the Render: kept
    ("process-2", ("FAILED", 1)),  # another process under the id: attempt 1 lost, then refused
])
def test_a_ready_sent_before_the_render_arrived_keeps_the_attempt(fault_stack, second_incarnation, expected):
    with zmq_context() as context, fault_stack.client(timeout=30) as http:
        dealer, _, video_id, render = peer_with_a_render(context, fault_stack, http, PEER, "process-1")
        # Read only now, written before the Render arrived: no job, no Render received.
        dealer.send(COMMANDS.encode(Ready(worker_id=PEER, engines=["espeak"], incarnation=second_incarnation)))
        dealer.send(finished(render))
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
