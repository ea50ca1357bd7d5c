import pytest

from services.api.db.engine import open_database
from services.api.db.migrate import upgrade_to_head


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def db(tmp_path):
    """A real SQLite file with the migrated schema."""
    database = open_database(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    await upgrade_to_head(database)
    yield database
    await database.dispose()
