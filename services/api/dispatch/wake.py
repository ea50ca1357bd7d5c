"""How an API instance tells the dispatcher instance that the queue changed (a new job, a
cancel), DESIGN §8: a PostgreSQL NOTIFY sent in the transaction that changed it, so it is
delivered at commit, never before, and never for a change that rolled back. With SQLite
there is one instance, whose own broker is asked directly."""

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

WAKE_CHANNEL = "slidereel_dispatch"
_NOTIFY = select(func.pg_notify(WAKE_CHANNEL, ""))


def wake_dispatcher(transaction: Session | Connection, dialect: str) -> None:
    """Within `transaction` (a session or a Core connection, either in a transaction) on a
    database of `dialect`. Synchronous, as a `Database.write` function runs; an async session
    calls it through `run_sync`."""
    if dialect == "postgresql":
        transaction.execute(_NOTIFY)
