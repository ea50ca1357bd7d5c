"""`WS /ws/videos/{video_id}/render-progress` (SPEC §3).

The subscription starts before the stored state is read, so an event committed while the
client connects is either in the database read or arrives live; `seq` removes the overlap.
That gives a resuming client (`last_seq`) every event exactly once.

Live events may arrive out of order or not at all: two writers (the dispatcher and a cancel,
perhaps on two API instances) publish after their commits in either order, and a fan-out
link between instances can break (progress/fanout.py). Each job's seq has no gaps, so a
stream that sees one, or is told to resync, reads what it lacks from the job table, which
has every event committed before the one that revealed the gap.

A client that falls `WS_MAX_BACKLOG` events behind is closed with `SLOW_CONSUMER_CLOSE`
instead of being skipped ahead: it reconnects with `last_seq` and loses nothing, while its
backlog, and so the server's memory, stays bounded and publishing never waits for it.
"""

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Annotated, cast

import msgspec
from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.channels.subscriber import BacklogStrategy
from litestar.exceptions import WebSocketDisconnect
from litestar.params import Parameter
from litestar.status_codes import WS_1000_NORMAL_CLOSURE

from libs.contracts.codes import TERMINAL_STATUSES, JobStatus
from services.api.auth.roles import Role, requires
from services.api.db.models import JobRow
from services.api.errors import JobNotFound
from services.api.jobs.store import JobStore
from services.api.jobs.views import event_view, snapshot_view
from services.api.metrics.instruments import WEBSOCKET_CLIENTS
from services.api.progress.fanout import ALL_STREAMS_CHANNEL, RESYNC
from services.api.progress.messages import StreamConnected, StreamError
from services.api.progress.publisher import job_channel, video_channel
from services.api.settings import Settings
from services.api.timestamps import iso_utc

JOB_NOT_FOUND_CLOSE = 4404
SLOW_CONSUMER_CLOSE = 4008
"""The client fell `WS_MAX_BACKLOG` events behind; it should reconnect with `last_seq`."""
CLOSE_TIMEOUT_SEC = 5.0
"""A close frame waits behind unread data; a client whose receive window stays full must not
hold the handler, its subscription and backlog forever."""


class BoundedSubscriber(Subscriber):
    """A channels subscriber whose full backlog marks it `overflowed` where Litestar's own
    strategies would drop an event quietly and leave a gap the client cannot see."""

    def __init__(
        self, plugin: ChannelsPlugin, max_backlog: int | None = None, backlog_strategy: BacklogStrategy = "backoff"
    ) -> None:
        # "backoff" is the strategy whose queue reports full; "dropleft" never does.
        super().__init__(plugin, max_backlog, "backoff")
        self.overflowed = asyncio.Event()

    def put_nowait(self, item: bytes | None) -> bool:
        # Nothing after the first refused event is taken either: what the client still gets is
        # a gap-free prefix to resume from.
        if self.overflowed.is_set() or not super().put_nowait(item):
            self.overflowed.set()
            return False
        return True

    async def put(self, item: bytes | None) -> None:
        # `unsubscribe` ends the stream with `put(None)`, which on a full backlog would wait
        # forever for a reader that has gone.
        self.put_nowait(item)


class EventKey(msgspec.Struct):
    """The fields of a published event the stream needs to order and end it."""

    type: str
    job_id: str | None = None
    seq: int = 0
    status: JobStatus | None = None


class ProgressStream:
    def __init__(self, socket: WebSocket, jobs: JobStore, settings: Settings, video_id: str, follow_one_job: bool) -> None:
        self._socket = socket
        self._jobs = jobs
        self._settings = settings
        self._video_id = video_id
        self._follow_one_job = follow_one_job
        self._sent_seq: dict[str, int] = {}
        self._decode_key = msgspec.json.Decoder(EventKey).decode
        self._encoder = msgspec.json.Encoder()

    async def send_all(self, shown: JobRow | None, last_seq: int | None, subscriber: Subscriber) -> None:
        """History, then live events unless the followed job has already ended."""
        if shown is not None and await self.send_history(shown, last_seq) and self._follow_one_job:
            return
        await self.send_live(subscriber)

    async def send_history(self, job: JobRow, last_seq: int | None) -> bool:
        """Snapshot, then stored events after `last_seq`. Returns whether the job already ended."""
        current = await self._jobs.find(job.job_id) or job
        await self._socket.send_data(self._encoder.encode(snapshot_view(current, self._settings)))
        self._sent_seq[current.job_id] = current.last_seq if last_seq is None else last_seq
        if last_seq is not None:
            await self._send_stored(current.job_id)
        return JobStatus(current.status) in TERMINAL_STATUSES

    async def send_live(self, subscriber: Subscriber) -> None:
        async for data in subscriber.iter_events():
            key = self._decode_key(data)
            if key.type == RESYNC:
                ended = await self._resync(key.job_id)
            elif key.job_id is None or key.seq <= self._sent_seq.get(key.job_id, 0):
                continue  # only a resync names no job
            elif key.seq > self._sent_seq.get(key.job_id, 0) + 1:
                ended = await self._send_stored(key.job_id)
            else:
                await self._send(key.job_id, key.seq, data)
                ended = key.status in TERMINAL_STATUSES
            if ended and self._follow_one_job:
                return

    async def _resync(self, job_id: str | None) -> bool:
        """Every event the stream lacks of `job_id`, or of every job it follows (and of the
        video's newest job, which may have started unseen). Returns whether one ended a job."""
        if job_id is not None:
            return await self._send_stored(job_id)
        job_ids = set(self._sent_seq)
        if not self._follow_one_job and (newest := await self._jobs.latest_job(self._video_id)) is not None:
            job_ids.add(newest.job_id)
        ended = False
        for followed in job_ids:
            ended |= await self._send_stored(followed)
        return ended

    async def _send_stored(self, job_id: str) -> bool:
        """The job's stored events after the last one sent. Returns whether one ended the job."""
        ended = False
        for row in await self._jobs.events_after(job_id, self._sent_seq.get(job_id, 0)):
            await self._send(row.job_id, row.seq, self._encoder.encode(event_view(row, self._settings)))
            ended = JobStatus(row.status) in TERMINAL_STATUSES
        return ended

    async def _send(self, job_id: str, seq: int, data: bytes) -> None:
        await self._socket.send_data(data.decode())
        self._sent_seq[job_id] = seq


@websocket("/ws/videos/{video_id:str}/render-progress", name="render_progress", guards=[requires(Role.VIEWER)])
async def render_progress(
    socket: WebSocket,
    video_id: str,
    jobs: JobStore,
    settings: Settings,
    channels: ChannelsPlugin,
    job_id: str | None = None,
    last_seq: Annotated[int | None, Parameter(ge=0, description="Resume after this seq.")] = None,
) -> None:
    """Live progress of one job (`job_id`), else of the video's latest RUNNING job, else of
    every job of the video. `last_seq` resumes after the last event the client saw."""
    await socket.accept()
    with WEBSOCKET_CLIENTS.track_inprogress():
        await _stream(socket, video_id, jobs, settings, channels, job_id, last_seq)


async def _stream(
    socket: WebSocket,
    video_id: str,
    jobs: JobStore,
    settings: Settings,
    channels: ChannelsPlugin,
    job_id: str | None,
    last_seq: int | None,
) -> None:
    target = await jobs.find(job_id) if job_id else await jobs.latest_job(video_id, JobStatus.RUNNING)
    if job_id and (target is None or target.video_id != video_id):
        missing = JobNotFound.of(video_id, job_id)
        refusal = StreamError(error_code=missing.error_code, message=missing.message, detail=missing.detail)
        await socket.send_data(msgspec.json.encode(refusal))
        await socket.close(code=JOB_NOT_FOUND_CLOSE, reason="job not found")
        return
    channel = job_channel(target.job_id) if target else video_channel(video_id)
    stream = ProgressStream(socket, jobs, settings, video_id, follow_one_job=target is not None)
    async with channels.start_subscription([channel, ALL_STREAMS_CHANNEL]) as subscriber:
        connected = StreamConnected(
            video_id=video_id, job_id=target.job_id if target else None, timestamp=iso_utc(datetime.now(UTC))
        )
        await socket.send_data(msgspec.json.encode(connected))
        shown = target or await jobs.latest_job(video_id)
        # The plugin's subscriber_class (app.py).
        overflowed = cast(BoundedSubscriber, subscriber).overflowed
        lagged = await _send_until_done(socket, stream.send_all(shown, last_seq, subscriber), overflowed)
    code, reason = (
        (SLOW_CONSUMER_CLOSE, "slow consumer: reconnect with last_seq") if lagged else (WS_1000_NORMAL_CLOSURE, "job finished")
    )
    # Fails harmlessly when the client has already gone.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(socket.close(code=code, reason=reason), CLOSE_TIMEOUT_SEC)


async def _send_until_done(socket: WebSocket, sending, overflowed: asyncio.Event) -> bool:
    """Runs the sender until it ends, the client disconnects or its backlog overflows, whichever
    comes first. Returns whether it overflowed before the sender was done."""

    async def drain_client() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_data(mode="text")

    sender = asyncio.ensure_future(sending)
    reader = asyncio.ensure_future(drain_client())
    lagging = asyncio.ensure_future(overflowed.wait())
    done, pending = await asyncio.wait({sender, reader, lagging}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await task
    for task in done:
        with contextlib.suppress(WebSocketDisconnect):
            task.result()
    return lagging in done and sender not in done
