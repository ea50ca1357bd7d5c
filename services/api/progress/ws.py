"""`WS /ws/videos/{video_id}/render-progress` (SPEC §3).

The subscription starts before the stored state is read, so an event committed while the
client connects is either in the database read or arrives live; `seq` removes the overlap.
That gives a resuming client (`last_seq`) every event exactly once.
"""

import asyncio
import contextlib
from datetime import UTC, datetime

import msgspec
from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin, Subscriber
from litestar.exceptions import WebSocketDisconnect
from litestar.params import Parameter
from litestar.status_codes import WS_1000_NORMAL_CLOSURE

from libs.contracts.codes import TERMINAL_STATUSES, JobStatus
from services.api.db.models import JobRow
from services.api.jobs.store import JobStore
from services.api.jobs.views import event_view, snapshot_view
from services.api.progress.publisher import job_channel, video_channel
from services.api.settings import Settings
from services.api.timestamps import iso_utc

JOB_NOT_FOUND_CLOSE = 4404


class EventKey(msgspec.Struct):
    """The fields of a published event the stream needs to order and end it."""

    job_id: str
    seq: int
    status: JobStatus | None = None


class ProgressStream:
    def __init__(self, socket: WebSocket, jobs: JobStore, settings: Settings, follow_one_job: bool) -> None:
        self._socket = socket
        self._jobs = jobs
        self._base_url = settings.public_base_url
        self._follow_one_job = follow_one_job
        self._sent_seq: dict[str, int] = {}
        self._decode_key = msgspec.json.Decoder(EventKey).decode
        self._encoder = msgspec.json.Encoder()

    async def send_history(self, job: JobRow, last_seq: int | None) -> bool:
        """Snapshot, then stored events after `last_seq`. Returns whether the job already ended."""
        current = await self._jobs.find(job.job_id) or job
        await self._socket.send_data(self._encoder.encode(snapshot_view(current, self._base_url)))
        self._sent_seq[current.job_id] = current.last_seq if last_seq is None else last_seq
        if last_seq is not None:
            for row in await self._jobs.events_after(current.job_id, last_seq):
                await self._send(row.job_id, row.seq, self._encoder.encode(event_view(row, self._base_url)))
        return JobStatus(current.status) in TERMINAL_STATUSES

    async def send_live(self, subscriber: Subscriber) -> None:
        async for data in subscriber.iter_events():
            key = self._decode_key(data)
            if key.seq <= self._sent_seq.get(key.job_id, 0):
                continue
            await self._send(key.job_id, key.seq, data)
            if self._follow_one_job and key.status in TERMINAL_STATUSES:
                return

    async def _send(self, job_id: str, seq: int, data: bytes) -> None:
        await self._socket.send_data(data.decode())
        self._sent_seq[job_id] = seq


@websocket("/ws/videos/{video_id:str}/render-progress", name="render_progress")
async def render_progress(
    socket: WebSocket,
    video_id: str,
    jobs: JobStore,
    settings: Settings,
    channels: ChannelsPlugin,
    job_id: str | None = Parameter(query="job_id", default=None),
    last_seq: int | None = Parameter(query="last_seq", default=None, ge=0),
) -> None:
    """Live progress of one job (`job_id`), else of the video's latest RUNNING job, else of
    every job of the video. `last_seq` resumes after the last event the client saw."""
    await socket.accept()
    target = await jobs.find(job_id) if job_id else await jobs.latest_job(video_id, JobStatus.RUNNING)
    if job_id and (target is None or target.video_id != video_id):
        await socket.send_json({"type": "error", "error_code": "JOB_NOT_FOUND", "message": f"Job {job_id!r} of video {video_id!r} does not exist."})
        await socket.close(code=JOB_NOT_FOUND_CLOSE, reason="job not found")
        return
    channel = job_channel(target.job_id) if target else video_channel(video_id)
    stream = ProgressStream(socket, jobs, settings, follow_one_job=target is not None)
    async with channels.start_subscription([channel]) as subscriber:
        await socket.send_json({
            "type": "connected", "video_id": video_id, "job_id": target.job_id if target else None,
            "message": "Connected to render progress stream", "timestamp": iso_utc(datetime.now(UTC)),
        })
        shown = target or await jobs.latest_job(video_id)
        if shown is not None and await stream.send_history(shown, last_seq) and target is not None:
            await socket.close(code=WS_1000_NORMAL_CLOSURE, reason="job finished")
            return
        await _until_client_leaves(socket, stream.send_live(subscriber))
    with contextlib.suppress(Exception):
        await socket.close(code=WS_1000_NORMAL_CLOSURE, reason="job finished")


async def _until_client_leaves(socket: WebSocket, sending) -> None:
    """Runs the sender until it ends or the client disconnects, whichever comes first."""

    async def drain_client() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_data(mode="text")

    sender = asyncio.ensure_future(sending)
    reader = asyncio.ensure_future(drain_client())
    done, pending = await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
            await task
    for task in done:
        with contextlib.suppress(WebSocketDisconnect):
            task.result()
