"""`sqlite+inline://`: SQLAlchemy's asyncio engine over Python's sqlite3, run on the event loop
thread itself.

aiosqlite runs every call (cursor, execute, fetch, commit, close) on a thread of its own and
hands each result back through the event loop: several thread hops per statement, which were
the largest share of the API's CPU per request (bench/api_load.py profiles: 30–40 % of the
GIL-holding samples under create and detail). The API's statements are point reads and small
writes on a WAL file that only this process writes, through one writer connection: each
finishes in tens of microseconds, less than one hop costs, and never waits on another
writer's lock (readers never wait in WAL). So they run inline. What this gives up: a long
statement holds the loop while it runs (the TTL sweep's deletes, of what expired since the
last sweep), and a write lock held by another process (an operator's sqlite3 shell) is
waited for on the loop, for at most the busy timeout.

The classes are SQLAlchemy's own asyncio adapters (`connectors/asyncio.py`) over a facade
whose coroutines complete without suspending, so the ORM, pool and events work unchanged.
"""

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import pool
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection, AsyncAdapt_dbapi_module
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL

DRIVER = "inline"


class _Cursor:
    """sqlite3's cursor behind the awaitable interface SQLAlchemy's adapter expects."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> "_Cursor":
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, operation: str, parameters: Sequence[Any] = ()) -> None:
        self._cursor.execute(operation, parameters)

    async def executemany(self, operation: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(operation, rows)

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def nextset(self) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()


class _Connection:
    """sqlite3's connection behind the awaitable interface SQLAlchemy's adapter expects."""

    __slots__ = ("sqlite",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.sqlite = connection

    def cursor(self) -> _Cursor:
        return _Cursor(self.sqlite.cursor())

    async def commit(self) -> None:
        self.sqlite.commit()

    async def rollback(self) -> None:
        self.sqlite.rollback()

    async def close(self) -> None:
        self.sqlite.close()


class InlineConnection(AsyncAdapt_dbapi_connection):
    """SQLAlchemy's adapter (and its default cursor adapter) over the facade: only what the
    pysqlite dialect reaches for beyond the DBAPI is added."""

    __slots__ = ()

    @property
    def isolation_level(self) -> str | None:
        return self._connection.sqlite.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection.sqlite.isolation_level = value

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.sqlite.create_function(*args, **kwargs)


class InlineDBAPI(AsyncAdapt_dbapi_module):
    paramstyle = "qmark"

    def __init__(self) -> None:
        super().__init__(sqlite3, dbapi_module=sqlite3)
        for name in ("DatabaseError", "Error", "IntegrityError", "InterfaceError", "NotSupportedError", "OperationalError",
                     "ProgrammingError", "sqlite_version", "sqlite_version_info", "PARSE_COLNAMES", "PARSE_DECLTYPES",
                     "Binary"):
            setattr(self, name, getattr(sqlite3, name))

    def connect(self, *args: Any, **kwargs: Any) -> InlineConnection:
        # Every call comes from the event loop's thread, but the pool may close a connection
        # from the garbage collector's: sqlite3 would refuse that without this.
        kwargs["check_same_thread"] = False
        return InlineConnection(self, _Connection(sqlite3.connect(*args, **kwargs)))


class SQLiteInlineDialect(SQLiteDialect_pysqlite):
    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> InlineDBAPI:  # type: ignore[override]
        return InlineDBAPI()

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool

    def get_driver_connection(self, connection: Any) -> Any:
        return connection._connection.sqlite


registry.register(f"sqlite.{DRIVER}", __name__, "SQLiteInlineDialect")
