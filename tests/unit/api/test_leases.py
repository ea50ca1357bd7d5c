"""The one claim/lease mechanism (db/leases.py) on a real database, through the queues that use
it: webhook deliveries (one-column key, an owner that may be NULL) and deck imports (two-column
key, the run as owner). Under `--job-store=postgresql` the racing claims go through FOR NO KEY
UPDATE SKIP LOCKED."""

import asyncio
from datetime import timedelta
from uuid import uuid4

import pytest

from services.api.db.engine import open_database
from services.api.db.models import DeckImportRow, JobRow, WebhookDeliveryRow, utc_now
from services.api.decks.records import IMPORTS
from services.api.webhooks.delivery import DELIVERIES

pytestmark = pytest.mark.anyio
LEASE = timedelta(seconds=30)


async def add_deliveries(db, *ages: timedelta, status: str = "PENDING") -> list[str]:
    """One delivery per age: due that long ago (a negative age: due in the future)."""
    now = utc_now()
    async with db.write_session() as session, session.begin():
        if await session.get(JobRow, "job") is None:
            session.add(
                JobRow(
                    job_id="job",
                    video_id="v",
                    script_id="s",
                    status="SUCCEEDED",
                    max_attempts=1,
                    created_by="tester",
                    created_at=now,
                    updated_at=now,
                )
            )
            await session.flush()
        ids = [f"msg_{uuid4().hex}" for _ in ages]
        session.add_all(
            WebhookDeliveryRow(
                webhook_id=webhook_id,
                job_id="job",
                url="http://receiver.test/",
                event_type="e",
                payload=b"{}",
                status=status,
                attempts=0,
                created_at=now - age,
                next_attempt_at=now - age,
            )
            for webhook_id, age in zip(ids, ages)
        )
    return ids


async def claim(db, owner: str, *, limit: int = 10, lease: timedelta = LEASE, now=None) -> list[str]:
    async with db.write_session() as session, session.begin():
        rows = await DELIVERIES.claim(session, owner, (now or utc_now()) + lease, limit=limit, now=now)
        return [row.webhook_id for row in rows]


async def renew(db, webhook_id: str, owner: str) -> bool:
    async with db.write_session() as session, session.begin():
        return await DELIVERIES.renew(session, (webhook_id,), owner, utc_now() + LEASE)


async def settle(db, webhook_id: str, owner: str, **values) -> bool:
    async with db.write_session() as session, session.begin():
        return await DELIVERIES.settle(session, (webhook_id,), owner, values or {"status": "DELIVERED"})


async def delivery(db, webhook_id: str) -> WebhookDeliveryRow:
    async with db.read_session() as session:
        return await session.get(WebhookDeliveryRow, webhook_id)


async def test_a_claim_takes_the_oldest_due_rows_and_leases_them_to_its_owner(db):
    old, older, oldest = await add_deliveries(db, timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=30))
    await add_deliveries(db, timedelta(seconds=-60))  # not due for another minute
    await add_deliveries(db, timedelta(seconds=40), status="DELIVERED")  # done: not waiting at all

    assert await claim(db, "a", limit=2) == [oldest, older]
    row = await delivery(db, oldest)
    assert row.lease_owner == "a" and utc_now() < row.lease_until <= utc_now() + LEASE
    assert await claim(db, "b") == [old], "held rows, rows not yet due and settled rows are passed over"
    assert await claim(db, "c") == []


async def test_a_claim_writes_its_values_and_the_caller_sees_them(db):
    [webhook_id] = await add_deliveries(db, timedelta(seconds=1))
    async with db.write_session() as session, session.begin():
        [row] = await DELIVERIES.claim(session, "a", utc_now() + LEASE, values={"attempts": WebhookDeliveryRow.attempts + 1})
        assert (row.webhook_id, row.attempts, row.lease_owner) == (webhook_id, 1, "a")
    assert (await delivery(db, webhook_id)).attempts == 1


async def test_extra_conditions_narrow_what_is_claimed(db):
    first, second = await add_deliveries(db, timedelta(seconds=2), timedelta(seconds=1))
    async with db.write_session() as session, session.begin():
        rows = await DELIVERIES.claim(session, "a", utc_now() + LEASE, where=[WebhookDeliveryRow.webhook_id == second])
    assert [row.webhook_id for row in rows] == [second]
    assert (await delivery(db, first)).lease_owner is None


async def test_two_owners_racing_never_claim_the_same_row(db):
    ids = set(await add_deliveries(db, *(timedelta(seconds=age) for age in range(1, 61))))
    # A second instance: its own engines and connections on the same database.
    other = open_database(db.writer.url.render_as_string(hide_password=False))
    try:

        async def drain(database, owner: str) -> list[str]:
            claimed = []
            while taken := await claim(database, owner, limit=3):
                claimed += taken
                await asyncio.sleep(0)
            return claimed

        results = await asyncio.gather(
            *(drain(database, owner) for database, owner in [(db, "a1"), (db, "a2"), (other, "b1"), (other, "b2")])
        )
    finally:
        await other.dispose()
    claimed = [webhook_id for result in results for webhook_id in result]
    assert sorted(claimed) == sorted(ids), "every row claimed exactly once"
    for result, owner in zip(results, ["a1", "a2", "b1", "b2"]):
        assert {(await delivery(db, webhook_id)).lease_owner for webhook_id in result} <= {owner}


async def test_an_expired_lease_is_found_and_taken_over_and_its_old_owner_is_fenced_out(db):
    [webhook_id] = await add_deliveries(db, timedelta(seconds=1))
    assert await claim(db, "lost", lease=timedelta(seconds=-1)) == [webhook_id]  # a lease that has run out

    now = utc_now()
    assert DELIVERIES.has_expired(await delivery(db, webhook_id), now)
    async with db.read_session() as session:
        assert await DELIVERIES.has_claimable(session)

    assert await claim(db, "heir") == [webhook_id]
    assert not await renew(db, webhook_id, "lost")
    assert not await settle(db, webhook_id, "lost", status="DEAD")
    assert await settle(db, webhook_id, "heir")
    assert (await delivery(db, webhook_id)).status == "DELIVERED"


async def test_a_held_lease_is_not_expired_until_its_time_passes(db):
    [webhook_id] = await add_deliveries(db, timedelta(seconds=1))
    assert await claim(db, "a") == [webhook_id]
    row = await delivery(db, webhook_id)
    assert not DELIVERIES.has_expired(row, utc_now())
    assert DELIVERIES.has_expired(row, utc_now() + LEASE * 2)
    assert await claim(db, "b", now=utc_now() + LEASE * 2) == [webhook_id], "claimed as of a time past the lease"


async def test_only_the_owner_renews_and_settles_and_only_until_it_settles(db):
    [webhook_id] = await add_deliveries(db, timedelta(seconds=1))
    assert await claim(db, "owner") == [webhook_id]
    before = (await delivery(db, webhook_id)).lease_until

    assert not await renew(db, webhook_id, "stranger")
    assert not await settle(db, webhook_id, "stranger")
    assert (await delivery(db, webhook_id)).status == "PENDING"

    await asyncio.sleep(0.01)
    assert await renew(db, webhook_id, "owner")
    assert (await delivery(db, webhook_id)).lease_until > before
    assert await settle(db, webhook_id, "owner", status="PENDING", attempts=1)
    settled = await delivery(db, webhook_id)
    assert (settled.attempts, settled.lease_until) == (1, None), "settling gives the lease up"
    assert not await renew(db, webhook_id, "owner"), "a settled row is nobody's"
    assert not await settle(db, webhook_id, "owner")
    assert await claim(db, "next") == [webhook_id], "and it is claimable again while it is due"


def deck_import(import_id: str, status: str, run_id: str) -> DeckImportRow:
    now = utc_now()
    return DeckImportRow(
        video_id="v",
        import_id=import_id,
        run_id=run_id,
        source="pdf",
        status=status,
        pages=1,
        pages_done=0,
        message="",
        created_by="tester",
        created_at=now,
        updated_at=now,
    )


async def test_a_two_column_key_is_claimed_taken_and_settled_the_same_way(db):
    async with db.write_session() as session, session.begin():
        session.add_all([deck_import("deck-failed", "FAILED", "run-1"), deck_import("deck-done", "SUCCEEDED", "run-2")])
    failed, done = ("v", "deck-failed"), ("v", "deck-done")
    async with db.write_session() as session, session.begin():
        assert await IMPORTS.take(session, [done, failed], "run-3", utc_now() + LEASE) != []
    async with db.write_session() as session, session.begin():
        assert await IMPORTS.claim(session, "run-4", utc_now() + LEASE) == [], "a held and a succeeded import"
        assert not await IMPORTS.settle(session, failed, "run-1", {"status": "FAILED"}), "its run was replaced"
        assert await IMPORTS.settle(session, failed, "run-3", {"status": "SUCCEEDED"})
    async with db.read_session() as session:
        row = await session.get(DeckImportRow, failed)
    assert (row.run_id, row.status, row.lease_until) == ("run-3", "SUCCEEDED", None)
