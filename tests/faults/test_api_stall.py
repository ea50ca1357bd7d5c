"""The API process is frozen (SIGSTOP, as a starved machine or a swapped-out process would be)
for longer than a worker's liveness, while its worker goes on heartbeating and finishes the
render. On waking, the broker's clock is late: if it judged liveness before libzmq had handed
over what arrived meanwhile, it would call the worker lost, fail the attempt WORKER_LOST and
render the job again (seen in loaded CI runs of the race suite). The outcome must count."""

import os
import signal
import time

import pytest

from libs.contracts.bus import Heartbeat, RunningJob
from services.api.settings import Settings
from tests.faults.fake_renderer import zmq_context
from tests.faults.scripted_peer import COMMANDS, finished, peer_with_a_render, play_until_settled

PEER = "stall-w0"
HEARTBEAT_INTERVAL_SEC = Settings.heartbeat_interval
LIVENESS = Settings.heartbeat_liveness
STALL_SEC = (LIVENESS + 2) * HEARTBEAT_INTERVAL_SEC
"""The fault itself, not a wait: long enough that every heartbeat the broker holds has expired."""


@pytest.mark.parametrize("fault_stack", [{"renderer": False}], indirect=True)
def test_an_outcome_sent_while_the_api_was_frozen_counts_once(fault_stack):
    with zmq_context() as context, fault_stack.client(timeout=30) as http:
        dealer, _, video_id, render = peer_with_a_render(context, fault_stack, http, PEER, "stall")
        running = Heartbeat(running_job=RunningJob(job_id=render.job_id, attempt=render.attempt), renders_received=1)

        os.kill(fault_stack.api.pid, signal.SIGSTOP)
        try:
            frozen_until = time.monotonic() + STALL_SEC
            while time.monotonic() < frozen_until:
                dealer.send(COMMANDS.encode(running))  # queued in the kernel until the API wakes
                time.sleep(HEARTBEAT_INTERVAL_SEC / 4)
            dealer.send(finished(render))
            dealer.send(COMMANDS.encode(Heartbeat(renders_received=1)))
        finally:
            os.kill(fault_stack.api.pid, signal.SIGCONT)

        settled = play_until_settled(dealer, http, video_id, render)
    assert (settled["status"], settled["attempt"]) == ("SUCCEEDED", 1), settled
    assert settled["attempts"][0]["outcome"] == "SUCCEEDED", settled
