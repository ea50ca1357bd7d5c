"""When the job table is slow, the job-state service's queue lags behind the bus (loaded runs of
the race suite once saw outcomes wait 5 s). A sweep queued before an outcome was read, but run
after that attempt's deadline had passed, used to judge the deadline as of when it ran: it timed
the attempt out although the outcome had arrived in time, the outcome was then ignored as stale
and the job rendered again. A sweep judges as of the moment the broker's clock queued it, and
the service works its queue in order.

The test holds the job table's write lock, so the service stops on the write of a progress
event; the broker's clock queues a sweep behind it; the outcome is sent well before the
deadline and the lock released only once the deadline has passed."""

import time

import pytest
from sqlalchemy import select

from libs.contracts.bus import Heartbeat, Progress, RunningJob, progress_codec
from libs.contracts.codes import Step
from services.api.db.models import JobRow
from services.api.settings import Settings
from tests.faults.fake_renderer import zmq_context
from tests.faults.scripted_peer import COMMANDS, finished, peer_with_a_render, play_until_settled
from tests.job_store import lock_job_table

PEER = "backlog-w0"
DEADLINE_SEC = 4.0
TICKS_QUEUED = 2
"""Clock ticks to let pass while the service is stopped, so a sweep is queued before the outcome."""
HEARTBEAT_INTERVAL_SEC = Settings.heartbeat_interval
ENV = {"RENDER_TIMEOUT_BASE_SEC": str(DEADLINE_SEC), "RENDER_TIMEOUT_PER_CHAR_SEC": "0"}


def deadline_of(stack, job_id: str) -> float:
    with stack.job_table() as db:
        return db.execute(select(JobRow.deadline_at).where(JobRow.job_id == job_id)).scalar_one().timestamp()


@pytest.mark.parametrize("fault_stack", [{"renderer": False, "env": ENV}], indirect=True)
def test_an_outcome_queued_behind_an_older_tick_beats_the_deadline_that_tick_finds_passed(fault_stack):
    with zmq_context() as context, fault_stack.client(timeout=30) as http:
        dealer, pub, video_id, render = peer_with_a_render(context, fault_stack, http, PEER, "backlog")
        running = COMMANDS.encode(
            Heartbeat(running_job=RunningJob(job_id=render.job_id, attempt=render.attempt), renders_received=1)
        )
        deadline = deadline_of(fault_stack, render.job_id)
        with fault_stack.job_table() as db:
            lock_job_table(db)  # the service's next write waits for this lock
            try:
                pub.send(
                    progress_codec().encode(
                        Progress(
                            job_id=render.job_id,
                            video_id=video_id,
                            attempt=render.attempt,
                            seq=1,
                            step=Step.GENERATE_TTS,
                            progress=10,
                            message="tts",
                            ts=time.time(),
                        )
                    )
                )  # ... and that write is this event's
                # The clock runs on while the service waits: a sweep is queued behind the progress.
                # (A slow machine shortens this wait; it cannot make the test fail, only miss the defect.)
                time.sleep(min(TICKS_QUEUED * HEARTBEAT_INTERVAL_SEC, max(0.0, deadline - time.time() - 1.0)))
                sent_at = time.time()
                dealer.send(finished(render))
                while time.time() < deadline + HEARTBEAT_INTERVAL_SEC / 2:
                    dealer.send(running)
                    time.sleep(HEARTBEAT_INTERVAL_SEC / 4)
            finally:
                db.rollback()
        settled = play_until_settled(dealer, http, video_id, render)
    assert sent_at < deadline, f"the outcome went out {sent_at - deadline:.2f} s after the deadline"
    assert (settled["status"], settled["attempt"]) == ("SUCCEEDED", 1), settled
    assert settled["attempts"][0]["outcome"] == "SUCCEEDED", settled
