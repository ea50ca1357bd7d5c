"""How an API instance tells the dispatcher instance that the queue changed (a new job, a
cancel), DESIGN §8: a PostgreSQL NOTIFY sent in the transaction that changed it, so it is
delivered at commit, never before, and never for a change that rolled back. With SQLite
there is one instance, whose own broker is asked directly."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

WAKE_CHANNEL = "slidereel_dispatch"
WAKE_DISPATCHER = select(func.pg_notify(WAKE_CHANNEL, ""))
"""The NOTIFY itself, for a transaction written as a function of a sync connection (`Database.write`)."""


async def wake_dispatcher(transaction: AsyncSession | AsyncConnection, dialect: str) -> None:
    """Within `transaction` (a session or a Core connection, either in a transaction) on a
    database of `dialect`."""
    if dialect == "postgresql":
        await transaction.execute(WAKE_DISPATCHER)
