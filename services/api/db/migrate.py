"""Bring the schema to the newest Alembic revision before the API serves anything."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from services.api.db.engine import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


async def upgrade_to_head(db: Database) -> None:
    async with db.writer.begin() as connection:
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
