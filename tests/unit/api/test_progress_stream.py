"""A progress stream that sees a job's seq skip (an event published out of order, or lost on
its way from another API instance) sends what it lacks from the job table, in order, once."""

import time

import msgspec
import pytest

from libs.contracts.bus import Progress
from libs.contracts.codes import Step
from libs.contracts.script import Scene, Script
from services.api.jobs.lifecycle import JobLifecycle, Transition
from services.api.jobs.store import JobStore
from services.api.jobs.views import event_view
from services.api.progress.fanout import Resync
from services.api.progress.ws import ProgressStream
from services.api.scripts.store import ScriptStore
from services.api.settings import Settings

pytestmark = pytest.mark.anyio
SETTINGS = Settings()


class RecordingSocket:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def send_data(self, data: str | bytes) -> None:
        self.sent.append(msgspec.json.decode(data))


class Live:
    """What the channels subscriber hands the stream: these frames, then the end."""

    def __init__(self, *frames: bytes) -> None:
        self._frames = frames

    async def iter_events(self):
        for frame in self._frames:
            yield frame


@pytest.fixture
async def running_job(db):
    """A job with events 1 (PENDING), 2 (RUNNING) and 3 (progress); returns (store, job, events)."""
    announced: list[Transition] = []
    await ScriptStore(db).put("v", "s", Script(title="t", scenes=[Scene(narration="안녕하세요.")]), "tester")
    await ScriptStore(db).approve("v", "s")
    lifecycle, jobs = JobLifecycle(db, announced.append, max_attempts=3, attempt_timeout=lambda script: 60.0), JobStore(db)
    job, _ = await lifecycle.create("v", "s", "tester")
    await lifecycle.claim("w0", {"espeak"})
    before = len(announced)
    stale = await lifecycle.record_progress(
        [Progress(job_id=job.job_id, video_id="v", attempt=1, seq=1, step=Step.GENERATE_TTS, progress=10, ts=time.time())]
    )
    assert stale == 0 and [t.event.seq for t in announced[before:]] == [3]
    return jobs, job, await jobs.events_after(job.job_id, 0)


def frame(event) -> bytes:
    return msgspec.json.encode(event_view(event, SETTINGS))


async def test_a_skipped_seq_is_filled_from_the_job_table(running_job):
    jobs, job, events = running_job
    socket = RecordingSocket()
    stream = ProgressStream(socket, jobs, SETTINGS, "v", follow_one_job=False)
    await stream.send_history(job, last_seq=1)
    # Event 3 arrives first; event 2, published by another writer, arrives after it.
    await stream.send_live(Live(frame(events[2]), frame(events[1])))
    assert [message["seq"] for message in socket.sent[1:]] == [2, 3]


async def test_a_resync_sends_what_the_stream_lacks(running_job):
    jobs, job, events = running_job
    socket = RecordingSocket()
    stream = ProgressStream(socket, jobs, SETTINGS, "v", follow_one_job=True)
    await stream.send_history(job, last_seq=1)
    await stream.send_live(Live(msgspec.json.encode(Resync()), frame(events[2])))
    assert [message["seq"] for message in socket.sent[1:]] == [2, 3]
