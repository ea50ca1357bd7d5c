"""The job store the suite's stacks run on, SQLite (the default) or PostgreSQL, chosen once per
test session with `pytest --job-store=postgresql` (tests/conftest.py), and the tests' own
connection to it, to read (or, in a few fault tests, age or lock) what the API wrote."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, select, text, update

from services.api.db.models import ScriptRow

SQLITE, POSTGRESQL = "sqlite", "postgresql"
KINDS = (SQLITE, POSTGRESQL)

_kind = SQLITE
_server = None
"""The session's PostgreSQL server (tests/postgres_server.py), started by the first stack needing it."""


def use(kind: str) -> None:
    global _kind
    if kind not in KINDS:
        raise ValueError(f"--job-store must be one of {', '.join(KINDS)}, not {kind!r}")
    _kind = kind


def kind() -> str:
    return _kind


def new_database_url() -> str | None:
    """DATABASE_URL for a new stack: None on SQLite (the API's file in the stack's data dir),
    else a fresh database on the session's PostgreSQL server."""
    global _server
    if _kind == SQLITE:
        return None
    if _server is None:
        from tests.postgres_server import PostgresServer  # only PostgreSQL runs need psycopg

        server = PostgresServer()
        server.start()
        _server = server
    return _server.new_database()


def stop() -> None:
    global _server
    if _server is not None:
        _server.stop()
        _server = None


def sync_url(database_url: str | None, data_dir: Path) -> str:
    """The URL a test's own blocking connection uses for the API's job table."""
    if database_url is None:
        return f"sqlite:///{data_dir / 'render_jobs.db'}"
    return database_url.replace("+asyncpg", "+psycopg", 1)


@contextmanager
def job_table(database_url: str | None, data_dir: Path) -> Iterator[Connection]:
    """A connection to the API's job table, in a transaction committed on the way out. On SQLite
    the API's writes never wait for it (WAL) unless a test takes the write lock on purpose."""
    engine = create_engine(sync_url(database_url, data_dir))
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        engine.dispose()


def lock_job_table(connection: Connection) -> None:
    """Makes every writer of the job table wait until `connection`'s transaction ends."""
    if connection.dialect.name == SQLITE:
        # The transaction pysqlite began is deferred; a write takes the database's one write lock.
        connection.execute(text("UPDATE render_jobs SET job_id = job_id WHERE 0"))
    else:
        connection.execute(text("LOCK TABLE render_jobs IN EXCLUSIVE MODE"))


def blank_the_narration(connection: Connection, video_id: str, script_id: str) -> None:
    """Blanks every scene's narration of a script, as a script approved before approval checked
    narration may be: what the renderer's own INVALID_SCRIPT check is still there for."""
    row = ScriptRow.__table__
    body = json.loads(
        connection.execute(select(row.c.body).where(row.c.video_id == video_id, row.c.script_id == script_id)).scalar_one()
    )
    body["scenes"] = [{**scene, "narration": " \n\t "} for scene in body["scenes"]]
    connection.execute(
        update(row).where(row.c.video_id == video_id, row.c.script_id == script_id).values(body=json.dumps(body).encode())
    )
