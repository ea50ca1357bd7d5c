import pytest

from services.api.db.engine import open_database
from services.api.db.migrate import upgrade_to_head
from tests import job_store


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def db(tmp_path):
    """A real database with the migrated schema: a SQLite file, or a fresh PostgreSQL database
    under `--job-store=postgresql`."""
    database = open_database(job_store.new_database_url() or f"sqlite:///{tmp_path / 'jobs.db'}")
    await upgrade_to_head(database)
    yield database
    await database.dispose()
