"""Which API instance dispatches (DESIGN §8).

Every instance serves HTTP and WebSockets; exactly one at a time runs the `RenderBroker`:
binds the bus, claims jobs, watches liveness and deadlines. With SQLite that is the only
instance. With PostgreSQL it is the instance holding a session advisory lock on a connection
of its own: when that instance dies, PostgreSQL ends its session and frees the lock, and the
next instance to try takes the role; the renderers, connected to every instance's endpoints,
re-register there with the renders they are running. An instance that loses its connection
stops dispatching at once, because the lock may already be someone else's.

The holder writes what it sees of the renderer pool to `dispatcher_status`, so that any
instance answers /readyz, /metrics and the voice catalog alike. A voice or scene preview needs
the bus, so only the holder makes one; another instance answers 503 naming why (see `preview`).
"""

import asyncio
import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import msgspec
import zmq
from sqlalchemy import select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError

from libs.contracts.bus import PreviewAudio, PreviewRequest, ScenePreviewRequest, ScenePreviewVideo, VoiceInfo
from libs.tasks import cancel_and_wait
from services.api.db.engine import Database
from services.api.db.held import LINK_ERRORS, held_connections, until_lost
from services.api.db.models import DispatcherStatusRow, utc_now
from services.api.dispatch.broker import RenderBroker
from services.api.dispatch.wake import WAKE_CHANNEL
from services.api.errors import VoiceUnavailable
from services.api.settings import Settings

log = logging.getLogger(__name__)

DISPATCHER_LOCK = 0x5E1D_0002
"""pg_try_advisory_lock key of the dispatcher role (db/migrate.py holds 0x5E1D_0001)."""
CONTEND_EVERY_SEC = 1.0
"""How often an instance without the role tries the lock: the bulk of a takeover's time."""
ROLE = "dispatcher"


@dataclass(frozen=True, kw_only=True)
class PoolStatus:
    """The renderer pool as the dispatcher sees it, for /readyz and /metrics."""

    dispatcher: bool
    """Whether this instance dispatches."""
    renderers: int
    waiting_for_engine: dict[str, int] = field(default_factory=dict)
    bus_rejected: dict[str, int] = field(default_factory=dict)


class DispatcherRole:
    def __init__(self, settings: Settings, db: Database, new_broker: Callable[[], RenderBroker]) -> None:
        self._settings = settings
        self._db = db
        self._new_broker = new_broker
        self._broker: RenderBroker | None = None
        self._contender: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._settings.shared_job_table:
            self._contender = asyncio.create_task(self._contend(), name="dispatcher-role")
        else:
            await self._take()

    async def stop(self) -> None:
        await cancel_and_wait([self._contender])
        await self._give_up()

    def request_dispatch(self) -> None:
        """A job this instance created may be dispatched. Another instance's dispatcher was
        woken by the create's own transaction (dispatch/wake.py)."""
        if self._broker is not None:
            self._broker.request_dispatch()

    def cancel(self, worker_id: str, job_id: str, attempt: int) -> None:
        """Stops a canceled render; the dispatcher of another instance learns of it from the
        cancel's transaction, as with `request_dispatch`."""
        if self._broker is not None:
            self._broker.cancel(worker_id, job_id, attempt)

    async def status(self) -> PoolStatus:
        if self._broker is not None:
            return PoolStatus(
                dispatcher=True,
                renderers=self._broker.connected_workers,
                waiting_for_engine=dict(self._broker.waiting_for_engine),
                bus_rejected=dict(self._broker.rejected),
            )
        reported = await self._reported()
        if reported is None:
            return PoolStatus(dispatcher=False, renderers=0)  # no instance dispatches now
        return PoolStatus(dispatcher=False, renderers=reported.renderers, waiting_for_engine=reported.waiting_for_engine)

    async def voices(self) -> list[VoiceInfo]:
        """What the connected renderers can speak now, as the dispatcher sees them."""
        if self._broker is not None:
            return self._broker.voice_catalog()
        reported = await self._reported()
        return [] if reported is None else msgspec.convert(reported.voices, list[VoiceInfo])

    async def preview(self, request: PreviewRequest, engine: str | None, timeout: float) -> PreviewAudio:
        """A voice preview spoken by a renderer worker (RenderBroker.preview). Only the dispatcher
        instance is on the bus. Relaying through the database, as new jobs are, would cost a table
        and a round of polling for a few seconds of audio; a 503 that says why is the simpler
        honest answer, and a client (the console) asks again, usually reaching the dispatcher."""
        return await self._bus().preview(request, engine, timeout)

    async def preview_scene(self, request: ScenePreviewRequest, engine: str | None, timeout: float) -> ScenePreviewVideo:
        """A scene preview rendered by a renderer worker (RenderBroker.preview_scene), as `preview`."""
        return await self._bus().preview_scene(request, engine, timeout)

    def _bus(self) -> RenderBroker:
        """This instance's broker; raises VoiceUnavailable (503) on an instance that is not the dispatcher."""
        if self._broker is None:
            raise VoiceUnavailable(
                "this API instance is not the dispatcher, which alone talks to the renderers; "
                "ask again (another instance may answer)",
                dispatcher=False,
            )
        return self._broker

    async def _reported(self) -> DispatcherStatusRow | None:
        """The dispatcher's latest report, unless it is too old to have a dispatcher behind it."""
        try:
            async with self._db.read_session() as session:
                reported = await session.scalar(select(DispatcherStatusRow).where(DispatcherStatusRow.role == ROLE))
        except (SQLAlchemyError, OSError):
            return None  # /readyz reports the database itself
        if reported is None or utc_now() - reported.reported_at > self._report_stale_after:
            return None
        return reported

    @property
    def _report_stale_after(self) -> timedelta:
        """A report older than a liveness period and a lock poll has no holder behind it."""
        settings = self._settings
        return timedelta(seconds=settings.heartbeat_interval * settings.heartbeat_liveness + CONTEND_EVERY_SEC)

    # --- holding the role ----------------------------------------------------------------

    async def _take(self) -> None:
        broker = self._new_broker()
        try:
            await broker.start()
        except BaseException:
            await broker.stop()  # its sockets, so the next try can bind
            raise
        self._broker = broker

    async def _give_up(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            await broker.stop()

    async def _contend(self) -> None:
        """Forever: connect, wait for the lock, dispatch while the connection lasts."""
        connections = held_connections(self._settings.sqlalchemy_url, "dispatcher-lock", CONTEND_EVERY_SEC)
        async with aclosing(connections):
            async for connection in connections:
                try:
                    await self._hold(connection)
                except LINK_ERRORS as error:
                    log.warning("the dispatcher lock's connection failed: %s", error)
                except zmq.ZMQError as error:
                    # Most likely its endpoints are taken; the lock goes with the connection, so
                    # another instance can dispatch meanwhile.
                    log.error(
                        "cannot bind the bus at %s and %s: %s",
                        self._settings.command_endpoint,
                        self._settings.event_endpoint,
                        error,
                    )
                finally:
                    if self._broker is not None:
                        log.error("lost the dispatcher lock's connection; stopped dispatching so another instance can")
                    await self._give_up()

    async def _hold(self, connection: asyncpg.Connection) -> None:
        # Polls the lock PostgreSQL holds (no Event in this process can say it is free); not the
        # blocking pg_advisory_lock, which would hold the connection's only query for as long.
        while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", DISPATCHER_LOCK):  # noqa: ASYNC110
            await asyncio.sleep(CONTEND_EVERY_SEC)
        # Listening before dispatching starts: a wake-up sent in between is not missed.
        await connection.add_listener(WAKE_CHANNEL, self._woken)
        await self._take()
        log.info("this instance dispatches now (bus at %s)", self._settings.command_endpoint)
        reporter = asyncio.create_task(self._report(), name="dispatcher-status")
        try:
            await until_lost(connection, self._settings.heartbeat_interval)
        finally:
            await cancel_and_wait([reporter])

    def _woken(self, _connection: object, _pid: int, _channel: str, _payload: str) -> None:
        if self._broker is not None:
            self._broker.wake()

    async def _report(self) -> None:
        reported_voices: list[VoiceInfo] | None = None
        while True:
            status = await self.status()
            row = {
                "role": ROLE,
                "instance": self._settings.command_endpoint,
                "renderers": status.renderers,
                "waiting_for_engine": status.waiting_for_engine,
                "reported_at": utc_now(),
            }
            # The catalog (some kilobytes) only when it changed, not every second.
            voices = await self.voices()
            if voices != reported_voices:
                row["voices"] = msgspec.to_builtins(voices)
            upsert = postgresql.insert(DispatcherStatusRow).values(row)
            try:
                async with self._db.write_session() as session, session.begin():
                    await session.execute(upsert.on_conflict_do_update(index_elements=["role"], set_=row))
                reported_voices = voices
            except (SQLAlchemyError, OSError) as error:  # the next interval tries again; /readyz shows the gap
                log.warning("could not report the renderer pool: %s", error)
            await asyncio.sleep(self._settings.heartbeat_interval)
