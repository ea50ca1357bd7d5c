"""Core INSERTs that both job-table backends understand: ON CONFLICT DO NOTHING lets the
database decide a race inside the statement, where a failed INSERT would end a PostgreSQL
transaction and catching it would rely on SQLite's behaviour."""

from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import FromClause, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import Insert as PostgresInsert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert

from services.api.db.models import Base

_DIALECT_INSERT: dict[str, Callable[[Table], PostgresInsert | SqliteInsert]] = {
    "sqlite": sqlite.insert,
    "postgresql": postgresql.insert,
}


def insert_of(dialect: str, row: Base) -> PostgresInsert | SqliteInsert:
    """An INSERT of a new row in the dialect's own form (one that takes `on_conflict_do_nothing`)."""
    return insert_into(dialect, row.__table__).values(columns_of(row))


def insert_into(dialect: str, table: FromClause) -> PostgresInsert | SqliteInsert:
    """An INSERT into `table` in the dialect's own form, its values given when executed: built
    once, so a hot path skips building and keying the statement on every call."""
    return _DIALECT_INSERT[dialect](cast(Table, table))


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table, for Core statements that skip the ORM (its `__table__` is typed
    as any FROM clause, but is the Table)."""
    return cast(Table, model.__table__)


def columns_of(row: Base) -> dict[str, Any]:
    """A new row's column values, for a Core INSERT that skips the ORM's unit of work."""
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}
