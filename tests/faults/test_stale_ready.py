"""What a worker's Ready says about the attempt the broker gave it.

On the connection the Render went to, a Ready the worker wrote before the Render arrived (it
says Ready again for its voices, or when the broker answers after a silence) is old news: the
attempt is kept (seen on a loaded machine at start-up: the attempt was failed WORKER_LOST and
rendered twice). A new process comes on a connection of its own: whatever the old process
ran is lost, and an attempt that was canceled (a render that ignored its Cancel, whose worker
was then killed and restarted) has its cancel confirmed then instead of staying open."""

import pytest

from libs.contracts.bus import JobFinished, Outcome, Ready
from tests.client import job, wait_for, wait_terminal
from tests.faults.fake_renderer import bus_sockets, zmq_context
from tests.faults.scripted_peer import COMMANDS, finished, next_render, peer_with_a_render

PEER = "stale-ready-w0"


@pytest.mark.parametrize("fault_stack", [{"renderer": False}], indirect=True)
def test_a_ready_the_connection_sent_before_the_render_arrived_keeps_the_attempt(fault_stack):
    with zmq_context() as context, fault_stack.client(timeout=30) as http:
        dealer, _, video_id, render = peer_with_a_render(context, fault_stack, http, PEER, "process-1")
        # Read only now, written before the Render arrived: no job, no Render received.
        dealer.send(COMMANDS.encode(Ready(worker_id=PEER, engines=["espeak"], incarnation="process-1")))
        dealer.send(finished(render))
        ended = wait_terminal(http, video_id, render.job_id)
    assert (ended["status"], ended["attempt"], ended["attempts"][0]["outcome"]) == ("SUCCEEDED", 1, "SUCCEEDED"), ended


def restarted(context, stack, old_dealer):
    """The peer's process gone (its connection closed) and a new one on a connection of its own."""
    old_dealer.close(linger=0)
    dealer, _ = bus_sockets(context, stack, f"{PEER}/restarted")
    dealer.send(COMMANDS.encode(Ready(worker_id=PEER, engines=["espeak"], incarnation="process-2")))
    return dealer


@pytest.mark.parametrize("fault_stack", [{"renderer": False}], indirect=True)
def test_a_restarted_worker_has_lost_the_attempt_its_old_process_ran(fault_stack):
    with zmq_context() as context, fault_stack.client(timeout=30) as http:
        old, _, video_id, render = peer_with_a_render(context, fault_stack, http, PEER, "process-1")
        dealer = restarted(context, fault_stack, old)
        retry = next_render(dealer)  # the retry goes to the new process, which fails it for good
        assert (retry.job_id, retry.attempt) == (render.job_id, 2)
        dealer.send(
            COMMANDS.encode(
                JobFinished(
                    job_id=retry.job_id, attempt=retry.attempt, outcome=Outcome.FAILED, retryable=False, error_message="gave up"
                )
            )
        )
        ended = wait_terminal(http, video_id, render.job_id)
    assert ended["attempts"][0]["error_code"] == "WORKER_LOST" and ended["attempt"] == 2, ended


@pytest.mark.parametrize("fault_stack", [{"renderer": False}], indirect=True)
def test_a_cancel_the_render_ignored_is_confirmed_when_its_worker_restarts(fault_stack):
    with zmq_context() as context, fault_stack.client(timeout=30) as http:
        old, _, video_id, render = peer_with_a_render(context, fault_stack, http, PEER, "process-1")
        assert http.post(f"/api/v2/videos/{video_id}/render-jobs/{render.job_id}/cancel").json()["status"] == "CANCELED"
        assert job(http, video_id, render.job_id)["attempts"][0]["finished_at"] is None, "open until its worker stops"
        restarted(context, fault_stack, old)  # the render ignored its Cancel; its worker was killed
        confirmed = wait_for(
            http,
            video_id,
            render.job_id,
            lambda j: j["attempts"][0]["finished_at"] is not None,
            what="the canceled attempt to be confirmed",
        )
    assert (confirmed["status"], confirmed["attempt"], confirmed["attempts"][0]["outcome"]) == ("CANCELED", 1, "CANCELED")
