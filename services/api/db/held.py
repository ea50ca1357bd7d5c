"""A PostgreSQL connection of this instance's own, outside SQLAlchemy's pool: the dispatcher
lock and LISTEN live in a session, so they need a connection that is never handed back. Its
loss must be noticed, since the lock and the notifications go with it."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator

import asyncpg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SEC = 5.0
LINK_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
"""What a held connection raises when the server or the path to it is gone."""


async def open_held(sqlalchemy_url: str, purpose: str) -> asyncpg.Connection:
    """`postgresql+asyncpg://…` (DATABASE_URL) opened with asyncpg itself, named in
    pg_stat_activity as `slidereel-{purpose}`."""
    dsn = make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SEC, server_settings={"application_name": f"slidereel-{purpose}"})


async def held_connections(sqlalchemy_url: str, purpose: str, pause_sec: float) -> AsyncGenerator[asyncpg.Connection, None]:
    """A held connection, and a new one each time the caller is done with the last (it was
    lost), forever; `pause_sec` between tries, so a server that is down is not hammered. Each
    connection is dropped once the caller's loop body ends; iterate inside
    `contextlib.aclosing`, so a cancelled caller drops the one it holds at once, not when the
    generator is collected."""
    while True:
        try:
            connection = await open_held(sqlalchemy_url, purpose)
        except LINK_ERRORS as error:
            log.warning("cannot open the %s connection to PostgreSQL: %s", purpose, error)
        else:
            try:
                yield connection
            finally:
                drop(connection)
        await asyncio.sleep(pause_sec)


async def until_lost(connection: asyncpg.Connection, interval: float) -> None:
    """Returns once the connection is gone: closed (the server went away, or said so), or
    silent, a probe unanswered for `interval` (a path that died without a FIN). Nothing else
    may query the connection meanwhile: asyncpg runs one query at a time."""
    closed = asyncio.Event()
    connection.add_termination_listener(lambda _connection: closed.set())
    while not closed.is_set():
        try:
            await asyncio.wait_for(connection.fetchval("SELECT 1"), interval)
        except LINK_ERRORS:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed.wait(), interval)


def drop(connection: asyncpg.Connection) -> None:
    """Closes without a goodbye: over a dead link a polite close would wait for its timeout."""
    connection.terminate()
