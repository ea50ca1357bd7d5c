"""The job stores a bench section runs on: SQLite (the API's own file) and PostgreSQL (a server
started for the section, where its binaries are installed: tests/postgres_server.py)."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url

from bench.results import Row
from tests.postgres_server import PostgresServer, why_no_postgresql
from tests.stack import Stack


def sync_url(stack: Stack) -> str:
    """The stack's job table for the bench's own (synchronous) SQLAlchemy engine."""
    if stack.database_url is None:
        return f"sqlite:///{stack.data_dir / 'render_jobs.db'}"
    return make_url(stack.database_url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@contextmanager
def job_table_url(store: str) -> Iterator[str | None]:
    """DATABASE_URL for a stack on `store` ("SQLite": None, the API's own file; "PostgreSQL":
    a new database on a server started for the bench and stopped after)."""
    if store == "SQLite":
        yield None
        return
    server = PostgresServer()
    server.start()
    try:
        yield server.new_database()
    finally:
        server.stop()


def stores_here() -> list[str]:
    """The job stores a section can run on here: SQLite, and PostgreSQL where its server is installed."""
    return ["SQLite"] + (["PostgreSQL"] if why_no_postgresql() is None else [])


def not_run_on_postgresql(section: str) -> list[Row]:
    reason = why_no_postgresql()
    return [Row(section, "PostgreSQL runs", "not run", note=reason)] if reason else []
