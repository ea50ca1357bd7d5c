"""Bring the schema to the newest Alembic revision before the API serves anything.

Run by every API start, and on its own as a deploy's release step
(`python -m services.api.db.migrate`, with the API's settings). On PostgreSQL several instances may start at once, so
the upgrade runs under a transaction-scoped advisory lock: the first instance migrates, the
others wait for its commit and then find the schema current. DDL is transactional there, so an
instance killed mid-migration leaves the previous revision, not half of the next one."""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from services.api.db.engine import Database, open_database
from services.api.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x5E1D_0001
"""pg_advisory_xact_lock key of schema upgrades (any constant no other lock of ours uses)."""


async def upgrade_to_head(db: Database) -> None:
    async with db.writer.begin() as connection:
        if db.dialect == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def _release() -> None:
    db = open_database(Settings().sqlalchemy_url)
    try:
        await upgrade_to_head(db)
    finally:
        await db.dispose()


if __name__ == "__main__":
    asyncio.run(_release())
