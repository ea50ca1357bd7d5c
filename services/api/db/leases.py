"""Leased work queues: the one way background work kept in a table (render jobs, webhook
deliveries, deck imports) is claimed, renewed, settled and recovered.

A row of work is claimed by one owner (a renderer, an API instance, a conversion run) until a
time, its lease. While the lease holds nobody else takes the row; its owner may renew the lease
and, in the end, settle the row (write its outcome and give the lease up). An owner that is
lost stops renewing, so its lease runs out and the next claim takes the row over: an expired
lease is how the work of a lost instance is recovered, whatever the kind of work.

A row's lease is in one of three states, read from its owner and lease-until columns:
  free     no owner, or no lease-until (never claimed, or settled);
  held     an owner and a lease-until still ahead;
  expired  an owner and a lease-until passed: still its owner's until someone takes it over.

Every write is one guarded UPDATE, so a race (two instances claiming at once, an owner given up
for lost finishing late) is decided in the database, never by one process's memory: on
PostgreSQL the rows a claim picks are locked FOR NO KEY UPDATE SKIP LOCKED, so instances
claiming at once take different rows; on SQLite the one write lock serialises claims. Times
are the API's clock (`utc_now`), as everywhere else in the tables.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.api.db.models import Base, utc_now

Entity = TypeVar("Entity", bound=Base)
Key = tuple[Any, ...]
"""A row's primary key values, in the order of `LeasedQueue.key`."""
Condition = ColumnElement[bool]


@dataclass(frozen=True)
class LeasedQueue(Generic[Entity]):
    """How one table's rows are queued and leased."""

    entity: type[Entity]
    key: tuple[InstrumentedAttribute, ...]
    """The primary key columns."""
    owner: InstrumentedAttribute
    """Who holds (or last held) the lease; the writes of its owner are guarded by it."""
    lease_until: InstrumentedAttribute
    """When the lease runs out; NULL once settled."""
    due: Callable[[datetime], Condition]
    """Which rows want a run at the given time, whatever their lease (claims add the lease)."""
    order: tuple[Any, ...] = ()
    """Claims take the first rows in this order (oldest first), ties broken by the key."""

    # --- conditions, for the queries of the tables' own stores ------------------------

    def free(self, now: datetime) -> Condition:
        """The row's lease is nobody's: never claimed, settled, or run out."""
        return or_(self.owner.is_(None), self.lease_until.is_(None), self.lease_until <= now)

    def claimable(self, now: datetime) -> Condition:
        return and_(self.due(now), self.free(now))

    def owned_by(self, owner: str) -> Condition:
        """The lease is `owner`'s, held or expired: an owner that comes back late may still renew
        or settle, until someone else has taken the row over (that is what fences it out)."""
        return and_(self.owner == owner, self.lease_until.is_not(None))

    def has_expired(self, row: Entity, now: datetime) -> bool:
        """The row was claimed and its owner let the lease run out without settling: what a lost
        owner leaves behind, to be taken over (`claim`, `take`) or given up on."""
        until = getattr(row, self.lease_until.key)
        return getattr(row, self.owner.key) is not None and until is not None and until <= now

    def key_of(self, row: Entity) -> Key:
        return tuple(getattr(row, column.key) for column in self.key)

    # --- claiming ------------------------------------------------------------------------

    async def has_claimable(self, session: AsyncSession, *, where: Iterable[Condition] = (), now: datetime | None = None) -> bool:
        """Whether any row is claimable: a cheap read a poller makes first, since most of its
        rounds find nothing and so need no write transaction (on SQLite, the one write lock every
        writer waits for)."""
        now = now or utc_now()
        return await session.scalar(select(self.key[0]).where(self.claimable(now), *where).limit(1)) is not None

    async def claim(
        self,
        session: AsyncSession,
        owner: str,
        lease_until: datetime,
        *,
        limit: int = 1,
        where: Iterable[Condition] = (),
        values: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> list[Entity]:
        """Leases up to `limit` claimable rows (first in `order`, also matching `where`) to `owner`
        until `lease_until`, writing `values` with it; returns them as they are now. Run it in the
        caller's write transaction: the claim is committed with whatever else the caller writes."""
        now = now or utc_now()
        where = tuple(where)
        candidates = await self.lock_claimable(session, limit=limit, where=where, now=now)
        return await self.take(
            session, [self.key_of(row) for row in candidates], owner, lease_until, where=where, values=values, now=now
        )

    async def lock_claimable(
        self, session: AsyncSession, *, limit: int = 1, where: Iterable[Condition] = (), now: datetime | None = None
    ) -> list[Entity]:
        """The first half of `claim`, for a caller that must read a row before it knows the
        lease to give it (a render job's deadline depends on its script): the claimable rows,
        locked until the transaction ends. Rows another transaction has locked are passed over,
        not waited for."""
        now = now or utc_now()
        return list(
            await session.scalars(
                select(self.entity)
                .where(self.claimable(now), *where)
                .order_by(*self.order, *self.key)
                .limit(limit)
                # NO KEY UPDATE: the lock the claim's UPDATE takes anyway; rows of other tables that
                # refer to this one (a job's events and attempts) can still be inserted meanwhile.
                .with_for_update(skip_locked=True, key_share=True)
            )
        )

    async def take(
        self,
        session: AsyncSession,
        keys: Sequence[Key],
        owner: str,
        lease_until: datetime,
        *,
        where: Iterable[Condition] = (),
        values: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> list[Entity]:
        """Leases the rows of `keys` that are still claimable (and match `where`) to `owner`, with
        `values`; returns those it took, in the order of `keys`. The guard is in the UPDATE, so of
        two takers of one row only one gets it: the second finds its lease held."""
        if not keys:
            return []
        now = now or utc_now()
        taken = await session.scalars(
            update(self.entity)
            .where(self._among(keys), self.claimable(now), *where)
            .values({**(values or {}), self.owner.key: owner, self.lease_until.key: lease_until})
            .returning(self.entity)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        by_key = {self.key_of(row): row for row in taken}
        return [by_key[key] for key in keys if key in by_key]

    # --- the owner's writes ----------------------------------------------------------------

    async def renew(
        self,
        executor: AsyncSession | AsyncConnection,
        key: Key,
        owner: str,
        lease_until: datetime,
        *,
        where: Iterable[Condition] = (),
        values: Mapping[str, Any] | None = None,
    ) -> bool:
        """Moves the lease's end to `lease_until` (writing `values` with it) if the row is still
        `owner`'s. False: it was settled or taken over, and `owner` should stop."""
        return await self._write(executor, key, owner, where, {**(values or {}), self.lease_until.key: lease_until})

    async def settle(
        self,
        executor: AsyncSession | AsyncConnection,
        key: Key,
        owner: str,
        values: Mapping[str, Any],
        *,
        where: Iterable[Condition] = (),
    ) -> bool:
        """Writes the outcome `values` and gives the lease up, if the row is still `owner`'s.
        False: someone took it over after `owner`'s lease ran out, and that outcome counts."""
        return await self._write(executor, key, owner, where, {**values, self.lease_until.key: None})

    async def _write(
        self,
        executor: AsyncSession | AsyncConnection,
        key: Key,
        owner: str,
        where: Iterable[Condition],
        values: Mapping[str, Any],
    ) -> bool:
        written = await executor.execute(
            update(self.entity)
            .where(self._is(key), self.owned_by(owner), *where)
            .values(values)
            .returning(self.key[0])
            .execution_options(synchronize_session=False)
        )
        return written.first() is not None

    def _is(self, key: Key) -> Condition:
        return and_(*(column == value for column, value in zip(self.key, key, strict=True)))

    def _among(self, keys: Sequence[Key]) -> Condition:
        if len(self.key) == 1:  # a plain IN: a one-column row value is spelled differently by dialect
            return self.key[0].in_([key[0] for key in keys])
        return tuple_(*self.key).in_(keys)
