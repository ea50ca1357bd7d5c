"""SQLite connections that each own a thread: every call on the `sqlite3` connection runs there,
so a statement that waits (for another process's write lock, up to the busy timeout) or runs
long (the TTL sweep's deletes) never holds the event loop.

An object of this module stands where SQLAlchemy's aiosqlite dialect expects an aiosqlite
connection (`create_async_engine(..., async_creator=...)`, engine.py). It differs from
aiosqlite in how a call gets to the thread and back, which is where the API's CPU goes:

- A statement is one trip: executed, its rows fetched and its cursor closed on the thread;
  aiosqlite makes four (cursor, execute, fetchall, close). A transaction's BEGIN rides with
  its first statement, and ending a transaction that sqlite3 does not have costs no trip. The
  hottest transactions (the create, the job detail) are one trip in all: a function of the
  connection run on the thread (`run_sync`, engine.py's `Database.write` and `read`).
- The loop hands the GIL to the thread for a call: it blocks, GIL released, for up to
  HANDOFF_S while the call runs, and awaits only a call still running then. A thread whose
  call is awaited must win the GIL back from a busy loop each time sqlite3 releases it (around
  every step), which takes the interpreter's switch interval (5 ms): under load a write
  transaction then took milliseconds, and the single writer held creates far below the rate
  statements on the loop allowed.

What the threads still cost (bench/api_load.py, SQLite, API CPU per request on the 2-core bench
machine, measured beside the inline driver this replaced, which ran statements on the loop):
the create about 1.0-1.1x that driver's, the job detail about 1.3-1.45x (one trip where it
made none); stock aiosqlite cost 2.4x and 3x.
"""

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Callable, Sequence
from functools import partial
from queue import SimpleQueue
from typing import Any, NamedTuple, TypeVar, cast

T = TypeVar("T")

HANDOFF_S = 0.005
"""How long the loop waits, blocked, for a call: a point read takes tens of microseconds and a
whole create about a millisecond, and an awaited call costs CPU again in GIL handoffs (at 1 ms
the create took 1.2-1.3x the inline driver's CPU, at 5 ms 1.0-1.1x); a call that takes longer
(a lock wait, a long delete) stalls the loop this long at most before it is awaited."""


async def connect(database: str, **kwargs: Any) -> "Connection":
    """Opens `sqlite3.connect(database, **kwargs)` on a new thread of its own."""
    connection = Connection()
    try:
        await connection.call(partial(connection.open, database, **kwargs))
    except BaseException:
        connection.stop()
        raise
    return connection


class _Call:
    """One function for the thread, and how its caller learns that it finished: a lock the
    thread releases, and the future of a caller that stopped blocking on it."""

    __slots__ = ("_done", "_guard", "error", "finished", "function", "future", "result")

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function
        self.result: Any = None
        self.error: Exception | None = None
        self.finished = False
        self.future: asyncio.Future[None] | None = None
        self._done = threading.Lock()
        self._done.acquire()
        self._guard = threading.Lock()
        """Orders `finished` and `future`: either the caller sees the call finished, or the thread sees the future."""

    def run(self) -> None:
        """On the thread."""
        try:
            self.result = self.function()
        except Exception as error:  # noqa: BLE001 - the caller raises it
            self.error = error
        with self._guard:
            self.finished = True
            future = self.future
        self._done.release()
        if future is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
                future.get_loop().call_soon_threadsafe(_resolve, future)

    async def outcome(self) -> Any:
        """On the loop: blocked for HANDOFF_S at most, then awaited."""
        if not self._done.acquire(timeout=HANDOFF_S):
            with self._guard:
                if not self.finished:
                    self.future = asyncio.get_running_loop().create_future()
            if self.future is not None:
                await self.future
        if self.error is not None:
            raise self.error
        return self.result


def _resolve(future: asyncio.Future[None]) -> None:
    # Done already if the awaiting task was cancelled.
    if not future.done():
        future.set_result(None)


class Connection:
    def __init__(self) -> None:
        self._calls: SimpleQueue[_Call | None] = SimpleQueue()
        """What the thread runs, in order; None ends it."""
        self._connection: sqlite3.Connection | None = None
        """Set on open, None again once closed: SQLAlchemy's aiosqlite dialect reads it (as
        aiosqlite's attribute of that name) to skip commit and rollback on a closed connection."""
        self._begin: str | None = None
        """The BEGIN statement of a transaction begun and not yet sent."""
        self._in_transaction = False
        """Whether sqlite3 was in a transaction after the last call; True when that is unknown."""
        threading.Thread(target=_serve, args=(self._calls,), name="sqlite", daemon=True).start()
        # A connection dropped without close() would leave its thread waiting forever.
        weakref.finalize(self, self._calls.put, None)

    isolation_level = None
    """Always None (opened so): sqlite3 never begins a transaction by itself, begin() does."""

    def open(self, database: str, **kwargs: Any) -> None:
        # check_same_thread: opened and used on this thread alone, but once dropped without
        # close() it is closed by whichever thread collects it.
        self._connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False, **kwargs)

    async def call(self, function: Callable[[], Any]) -> Any:
        """Runs `function` on this connection's thread, after every call queued before it."""
        call = _Call(function)
        self._calls.put(call)
        return await call.outcome()

    async def run_sync(self, function: Callable[[sqlite3.Connection], T]) -> T:
        """`function` of the sqlite3 connection, on its thread, in one trip: a whole transaction
        that does not wait for the loop between its statements (engine.py's `Database.write`)."""
        sqlite = self._sqlite
        try:
            return cast(T, await self.call(partial(function, sqlite)))
        finally:
            self._in_transaction = sqlite.in_transaction

    def begin(self, statement: str) -> None:
        """Opens a transaction with `statement` (a BEGIN), sent in the next statement's trip.
        Its error, if any (a write lock not had within the busy timeout), is that statement's."""
        self._begin = statement

    def cursor(self) -> "Cursor":
        return Cursor(self)

    async def run(self, execute: Callable[..., sqlite3.Cursor], operation: str, parameters: Any) -> "_Outcome":
        """`execute` (sqlite3's execute or executemany) on this connection, after the pending BEGIN."""
        begin, self._begin = self._begin, None
        self._in_transaction = True
        outcome: _Outcome = await self.call(partial(_run, self._sqlite, begin, execute, operation, parameters))
        self._in_transaction = outcome.in_transaction
        return outcome

    async def commit(self) -> None:
        await self._end(self._sqlite.commit)

    async def rollback(self) -> None:
        await self._end(self._sqlite.rollback)

    async def _end(self, end: Callable[[], None]) -> None:
        # Without a trip to the thread when sqlite3 has no transaction to end: one begun and
        # not yet sent, or none at all (the pool rolls back every connection it gets back, even
        # after a commit).
        self._begin = None
        if self._in_transaction:
            await self.call(end)
            self._in_transaction = False

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        await self.call(partial(self._sqlite.create_function, *args, **kwargs))

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await self.call(connection.close)
        self._calls.put(None)

    def stop(self) -> None:
        """Closes without waiting, from any thread (SQLAlchemy's terminate, as aiosqlite's stop())."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self._calls.put(_Call(connection.close))
        self._calls.put(None)

    @property
    def _sqlite(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return self._connection


class _Outcome(NamedTuple):
    description: Any
    rowcount: int
    lastrowid: int | None
    rows: list[Any]
    in_transaction: bool


class Cursor:
    """What one statement gave back, read without a trip to the thread."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    async def __aenter__(self) -> "Cursor":
        return self

    async def execute(self, operation: str, parameters: Sequence[Any] = ()) -> None:
        self._took(await self._connection.run(sqlite3.Connection.execute, operation, parameters))

    async def executemany(self, operation: str, rows: Sequence[Sequence[Any]]) -> None:
        self._took(await self._connection.run(sqlite3.Connection.executemany, operation, rows))

    def _took(self, outcome: _Outcome) -> None:
        self.description, self.rowcount, self.lastrowid, self._rows = outcome[:4]

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []


def _serve(calls: SimpleQueue[_Call | None]) -> None:
    while (call := calls.get()) is not None:
        call.run()


def _run(
    connection: sqlite3.Connection, begin: str | None, execute: Callable[..., sqlite3.Cursor], operation: str, parameters: Any
) -> _Outcome:
    if begin is not None:
        connection.execute(begin)
    cursor = execute(connection, operation, parameters)
    try:
        rows = cursor.fetchall()
        # After the rows: an INSERT … RETURNING counts its rows as they are fetched.
        return _Outcome(cursor.description, cursor.rowcount, cursor.lastrowid, rows, connection.in_transaction)
    finally:
        cursor.close()
