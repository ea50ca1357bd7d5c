"""A PostgreSQL connection of this instance's own, outside SQLAlchemy's pool: the dispatcher
lock and LISTEN live in a session, so they need a connection that is never handed back. Its
loss must be noticed, since the lock and the notifications go with it."""

import asyncio
import contextlib

import asyncpg
from sqlalchemy.engine import make_url

CONNECT_TIMEOUT_SEC = 5.0
LINK_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
"""What a held connection raises when the server or the path to it is gone."""


async def open_held(sqlalchemy_url: str, purpose: str) -> asyncpg.Connection:
    """`postgresql+asyncpg://…` (DATABASE_URL) opened with asyncpg itself, named in
    pg_stat_activity as `slidereel-{purpose}`."""
    dsn = make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SEC,
                                 server_settings={"application_name": f"slidereel-{purpose}"})


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
