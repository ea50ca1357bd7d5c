"""Job events to the WebSockets of every API instance (DESIGN §8), through PostgreSQL.

The instance that committed an event publishes it to its own subscribers directly, and to the
others with NOTIFY on a connection it holds, many events per round trip; every instance
LISTENs on another held connection and republishes what the others sent. Litestar's own
PostgreSQL channels backends open a connection per publish and stop for good after one failed
publish (research/scale.md); here either connection, once lost, is opened again.

Live delivery may still miss events (a NOTIFY lost with its connection, an event too large
for a notification), but never silently: the event is in the job table, and every stream
reads what it lacks from there (progress/ws.py) when it sees a `seq` skipped or a resync
marker, which an instance publishes to all of its streams after its listener reconnected
and all instances get after a sender reconnected.
"""

import asyncio
import logging
from contextlib import aclosing
from uuid import uuid4

import asyncpg
import msgspec
from litestar.channels import ChannelsPlugin

from libs.tasks import cancel_and_wait
from services.api.db.held import LINK_ERRORS, held_connections, until_lost
from services.api.settings import Settings

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "slidereel_events"
ALL_STREAMS_CHANNEL = "streams"
"""The Litestar channel every progress stream subscribes to besides its job's or video's: a
resync marker published there reaches them all. Instances name it to each other in their
notifications, so its value stays what every running version expects."""
PAYLOAD_MAX_BYTES = 7_999
"""PostgreSQL refuses a notification payload of 8000 bytes or more."""
BATCH_MAX = 500
OUTGOING_MAX = 50_000
"""Events queued while the sending connection is being reopened, at most; past that they are
dropped and every stream resyncs from the job table instead."""
RECONNECT_AFTER_SEC = 0.5


RESYNC = "resync"


class Resync(msgspec.Struct, tag=RESYNC):
    """Not sent to clients: tells a stream to read what it lacks of `job_id` (of every job it
    follows, if None) from the job table."""

    job_id: str | None = None


class ClusterFanout:
    def __init__(self, settings: Settings, channels: ChannelsPlugin) -> None:
        self._settings = settings
        self._channels = channels
        self._instance = uuid4().hex
        """Tags this instance's notifications, which its own listener skips."""
        self._outgoing: list[str] = []
        self._has_outgoing = asyncio.Event()
        self._owe_resync = False
        """Set when events meant for the other instances were lost: they are told to resync."""
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._send_forever(), name="fanout-send"),
            asyncio.create_task(self._listen_forever(), name="fanout-listen"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)

    def send(self, job_id: str, channels: list[str], data: bytes) -> None:
        """Queues an event, already published here, for the other instances."""
        payload = "\n".join((self._instance, *channels, data.decode()))
        if len(payload.encode()) > PAYLOAD_MAX_BYTES:
            payload = "\n".join((self._instance, *channels, msgspec.json.encode(Resync(job_id)).decode()))
        if len(self._outgoing) >= OUTGOING_MAX:
            self._outgoing.clear()
            self._owe_resync = True
        self._outgoing.append(payload)
        self._has_outgoing.set()

    # --- sending -------------------------------------------------------------------------

    async def _send_forever(self) -> None:
        connections = held_connections(self._settings.sqlalchemy_url, "fanout-send", RECONNECT_AFTER_SEC)
        async with aclosing(connections):
            async for connection in connections:
                try:
                    await self._send_batches(connection)
                except LINK_ERRORS as error:
                    log.warning("progress fan-out lost its sending connection: %s", error)
                    self._owe_resync = True

    async def _send_batches(self, connection: asyncpg.Connection) -> None:
        while True:
            if not self._owe_resync:
                await self._has_outgoing.wait()
            self._has_outgoing.clear()
            batch, self._outgoing = self._outgoing, []
            if self._owe_resync:
                # What was lost in flight or dropped is in the job table: every stream of every
                # instance reads what it lacks from there.
                self._owe_resync = False
                batch.insert(0, "\n".join((self._instance, ALL_STREAMS_CHANNEL, msgspec.json.encode(Resync()).decode())))
            for start in range(0, len(batch), BATCH_MAX):
                await self._notify(connection, batch[start : start + BATCH_MAX])

    @staticmethod
    async def _notify(connection: asyncpg.Connection, payloads: list[str]) -> None:
        # One round trip, one transaction: delivered together, in this order.
        await connection.execute(
            "SELECT pg_notify($1, payload) FROM unnest($2::text[]) WITH ORDINALITY AS sent(payload, n) ORDER BY n",
            NOTIFY_CHANNEL,
            payloads,
        )

    # --- receiving -----------------------------------------------------------------------

    async def _listen_forever(self) -> None:
        # Until the first connection listens, other instances' events pass unseen too; the
        # resync it then publishes reaches whichever streams opened meanwhile (none, usually).
        missed = True
        connections = held_connections(self._settings.sqlalchemy_url, "fanout-listen", RECONNECT_AFTER_SEC)
        async with aclosing(connections):
            async for connection in connections:
                try:
                    await connection.add_listener(NOTIFY_CHANNEL, self._received)
                    if missed:
                        self._channels.publish(msgspec.json.encode(Resync()), ALL_STREAMS_CHANNEL)
                    await until_lost(connection, self._settings.heartbeat_interval)
                except LINK_ERRORS as error:
                    log.warning("progress fan-out's listening connection failed: %s", error)
                log.warning("progress fan-out stopped listening; reconnecting, then streams catch up from the job table")
                missed = True

    def _received(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        instance, *channels, data = payload.split("\n")
        if instance != self._instance:
            self._channels.publish(data.encode(), channels)
