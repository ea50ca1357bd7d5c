"""How an API instance tells the dispatcher instance that the queue changed (a new job, a
cancel), DESIGN §8: a PostgreSQL NOTIFY sent in the transaction that changed it, so it is
delivered at commit, never before, and never for a change that rolled back. With SQLite
there is one instance, whose own broker is asked directly."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

WAKE_CHANNEL = "slidereel_dispatch"


async def wake_dispatcher(session: AsyncSession) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(select(func.pg_notify(WAKE_CHANNEL, "")))
