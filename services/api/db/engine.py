"""Async engines: SQLite (the default) with the pragmas and transaction modes DESIGN §4 asks
for, or PostgreSQL (`DATABASE_URL=postgresql+asyncpg://…`, DESIGN §8).

SQLite: two engines over one file. Writes go through a single connection that opens every
transaction with BEGIN IMMEDIATE (the write lock is taken up front, so two writers never
deadlock upgrading a read lock); reads use deferred transactions and run beside it in WAL.
Each connection runs its statements on a thread of its own (sqlite_thread.py), never on the
event loop, where a write waiting out another process's lock (up to the busy timeout) or a
long delete would stall every request, WebSocket and the broker for as long. SQLAlchemy drives
those connections through its aiosqlite dialect (`async_creator`), so sessions and stores see
an ordinary async engine.
PostgreSQL: one pool for both, since its writers lock rows, not the database; every write
that another instance could race is guarded in SQL (conditional UPDATEs, ON CONFLICT,
FOR UPDATE SKIP LOCKED), never by this process's single writer.
"""

import sqlite3
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar, cast

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from services.api.db import sqlite_thread

T = TypeVar("T")
Work = Callable[[Connection], T]
"""A whole transaction's statements, as a function of a (sync) SQLAlchemy Connection."""

BUSY_TIMEOUT_MS = 5_000
POOL_SIZE = 10
"""PostgreSQL connections each API instance keeps (and as many again at peaks)."""


@dataclass(frozen=True)
class Database:
    writer: AsyncEngine
    reader: AsyncEngine
    write_session: async_sessionmaker[AsyncSession]
    read_session: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        """ "sqlite" or "postgresql": the few statements that differ ask this."""
        return self.writer.dialect.name

    async def write(self, work: Work[T]) -> T:
        """`work` in one write transaction, committed when it returns. The hottest paths (the
        create) take this form: on SQLite the whole transaction is one trip to the writer's
        thread, where statement by statement on the async engine it is one trip each."""
        if self.dialect == "sqlite":
            return await _on_sqlite_thread(self.writer, work, "BEGIN IMMEDIATE")
        async with self.writer.begin() as connection:
            return await connection.run_sync(work)

    async def read(self, work: Work[T]) -> T:
        """`work` in one read transaction (on SQLite one snapshot), as `write` does it."""
        if self.dialect == "sqlite":
            return await _on_sqlite_thread(self.reader, work, "BEGIN")
        async with self.reader.connect() as connection:
            return await connection.run_sync(work)

    async def dispose(self) -> None:
        await self.writer.dispose()
        await self.reader.dispose()


def open_database(url: str) -> Database:
    if make_url(url).get_backend_name() == "sqlite":
        # Whatever driver the URL names.
        sqlite_url = make_url(url).set(drivername="sqlite+aiosqlite")
        connect = partial(sqlite_thread.connect, sqlite_url.database or ":memory:")
        writer = create_async_engine(sqlite_url, pool_size=1, max_overflow=0, async_creator=connect)
        reader = create_async_engine(sqlite_url, pool_size=4, max_overflow=4, async_creator=connect)
        _configure_sqlite(writer, begin="BEGIN IMMEDIATE")
        _configure_sqlite(reader, begin="BEGIN")
    else:
        # pre_ping: a pooled connection that a PostgreSQL restart or failover closed is
        # replaced before use instead of failing the request that drew it.
        writer = reader = create_async_engine(url, pool_size=POOL_SIZE, max_overflow=POOL_SIZE, pool_pre_ping=True)
    return Database(
        writer=writer,
        reader=reader,
        write_session=async_sessionmaker(writer, expire_on_commit=False),
        read_session=async_sessionmaker(reader, expire_on_commit=False),
    )


async def _on_sqlite_thread(engine: AsyncEngine, work: Work[T], begin: str) -> T:
    # Checked out from the async engine's pool, so the single writer stays single.
    async with engine.connect() as connection:
        thread_connection = cast(sqlite_thread.Connection, (await connection.get_raw_connection()).driver_connection)
        return await thread_connection.run_sync(partial(_transaction, thread_connection, work, begin))


_SYNC_CONNECTIONS: "weakref.WeakKeyDictionary[sqlite_thread.Connection, Connection]" = weakref.WeakKeyDictionary()
"""A sync SQLAlchemy connection over each connection that ran `_transaction`, kept open and used
on that connection's thread only: opening one per transaction cost as much as the statements."""


def _transaction(owner: sqlite_thread.Connection, work: Work[T], begin: str, sqlite: sqlite3.Connection) -> T:
    """On the connection's thread: `work` between `begin` and the commit (a rollback if it raises)."""
    connection = _SYNC_CONNECTIONS.get(owner)
    if connection is None:
        # The same dialect over the same sqlite3 connection (its pragmas already set), checked
        # out for good: it is collected with its owner, whose sqlite3 connection is closed by
        # then, so nothing is reset on its return.
        engine = create_engine("sqlite://", creator=lambda: sqlite, poolclass=StaticPool, pool_reset_on_return=None)
        connection = _SYNC_CONNECTIONS[owner] = engine.connect()
    # sqlite3 was opened with isolation_level=None, and SQLAlchemy's pysqlite dialect sends no
    # BEGIN of its own: the transaction is ours to open, and its commit or rollback SQLAlchemy's.
    try:
        sqlite.execute(begin)
    except sqlite3.Error as error:  # as SQLAlchemy raises it for any statement (a lock not had in time)
        raise DBAPIError.instance(begin, None, error, sqlite3.Error) from error
    with connection.begin():
        return work(connection)


def _configure_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection) -> None:
        # Sent with the transaction's first statement, in one trip to the connection's thread.
        connection.connection.driver_connection.begin(begin)
