"""SQLite's statements run on their connections' threads, never on the event loop: a write
waiting for another process's write lock leaves the loop serving everything else."""

import asyncio
import itertools
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from services.api.db.engine import open_database

pytestmark = pytest.mark.anyio
TICK_S = 0.05
WATCH_S = 0.5
LONGEST_GAP_S = 0.25
"""Five ticks: room for a loaded machine, far below the wait of a write that held the loop
(the busy timeout, 5 s)."""


@pytest.fixture
async def db(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'jobs.db'}")
    async with database.writer.begin() as connection:
        await connection.execute(text("CREATE TABLE t (v INTEGER)"))
    yield database
    await database.dispose()


async def _insert(db) -> None:
    async with db.writer.begin() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES (1)"))


async def _insert_in_one_trip(db) -> None:
    await db.write(lambda connection: connection.execute(text("INSERT INTO t (v) VALUES (1)")))


@pytest.mark.parametrize("insert", [_insert, _insert_in_one_trip], ids=["statement by statement", "one trip"])
async def test_a_write_waiting_for_another_process_lock_leaves_the_loop_free(db, tmp_path, insert):
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        other = sqlite3.connect(tmp_path / "jobs.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(timeout=10)
        other.rollback()
        other.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        await asyncio.to_thread(locked.wait)
        write = asyncio.create_task(insert(db))
        assert await _longest_tick_gap() <= LONGEST_GAP_S
        assert not write.done(), "the write should still be waiting for the lock"
    finally:
        release.set()
        await asyncio.to_thread(holder.join)
    await asyncio.wait_for(write, timeout=5)
    async with db.read_session() as session:
        assert await session.scalar(text("SELECT count(*) FROM t")) == 1


async def _longest_tick_gap() -> float:
    """Ticks every TICK_S for WATCH_S: the longest time between two ticks."""
    ticks = [time.monotonic()]
    while ticks[-1] - ticks[0] < WATCH_S:
        await asyncio.sleep(TICK_S)
        ticks.append(time.monotonic())
    return max(later - earlier for earlier, later in itertools.pairwise(ticks))
