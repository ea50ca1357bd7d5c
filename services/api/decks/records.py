"""Deck import rows: begun once per deck and video (or begun again after a failure), then
written only by the conversion that owns them (its `run_id`), which holds the row's lease
(db/leases.py) while it converts."""

from datetime import datetime, timedelta
from enum import Enum

from services.api.db.engine import Database
from services.api.db.inserts import insert_of
from services.api.db.leases import LeasedQueue
from services.api.db.models import DeckImportRow, utc_now
from services.api.db.pages import page_of
from services.api.errors import DeckImportNotFound


class ImportStatus(str, Enum):
    CONVERTING = "CONVERTING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


RUN_LEASE = timedelta(seconds=60)
"""How long a conversion's lease lasts from its last write; the conversion renews it every
decks/importer.py HEARTBEAT_SEC. A CONVERTING import whose lease ran out lost its API instance:
it counts as failed and may begin again."""

IMPORTS = LeasedQueue(
    entity=DeckImportRow,
    key=(DeckImportRow.video_id, DeckImportRow.import_id),
    owner=DeckImportRow.run_id,
    lease_until=DeckImportRow.lease_until,
    # A new run may take over a failed import (settled: its lease is free) or one whose run was
    # lost (its lease expired); a succeeded one is done for good.
    due=lambda now: DeckImportRow.status != ImportStatus.SUCCEEDED.value,
)


def is_stale(row: DeckImportRow, now: datetime) -> bool:
    return row.status == ImportStatus.CONVERTING.value and IMPORTS.has_expired(row, now)


class DeckImports:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, video_id: str, import_id: str) -> DeckImportRow | None:
        async with self._db.read_session() as session:
            return await session.get(DeckImportRow, (video_id, import_id))

    async def get(self, video_id: str, import_id: str) -> DeckImportRow:
        row = await self.find(video_id, import_id)
        if row is None:
            raise DeckImportNotFound(
                f"Deck import {import_id!r} of video {video_id!r} does not exist.", video_id=video_id, import_id=import_id
            )
        return row

    async def page(self, video_id: str, limit: int, offset: int) -> tuple[list[DeckImportRow], int]:
        async with self._db.read_session() as session:
            return await page_of(
                session,
                DeckImportRow,
                DeckImportRow.video_id == video_id,
                (DeckImportRow.created_at.desc(), DeckImportRow.import_id),
                limit,
                offset,
            )

    async def begin(self, row: DeckImportRow, previous: DeckImportRow | None) -> bool:
        """Writes `row` as the import's new run, leased to it: inserted, or over `previous` if that
        run failed or lost its lease. False when another request began it first (then leave it to
        that one)."""
        lease_until = utc_now() + RUN_LEASE
        async with self._db.write_session() as session, session.begin():
            if previous is None:
                statement = (
                    insert_of(self._db.dialect, row)
                    .values(lease_until=lease_until)
                    .on_conflict_do_nothing(index_elements=["video_id", "import_id"])
                    .returning(DeckImportRow.import_id)
                )
                return await session.scalar(statement) is not None
            restarted = await IMPORTS.take(
                session,
                [IMPORTS.key_of(row)],
                row.run_id,
                lease_until,
                # Over the run this request saw, not over a run begun meanwhile by another one.
                where=[DeckImportRow.run_id == previous.run_id],
                values={
                    "status": row.status,
                    "pages": row.pages,
                    "pages_done": 0,
                    "message": row.message,
                    "script_id": None,
                    "scenes_without_narration": None,
                    "error_code": None,
                    "error_message": None,
                    "error_detail": None,
                    "created_by": row.created_by,
                    "updated_at": row.updated_at,
                },
            )
            return bool(restarted)

    async def record(self, row: DeckImportRow, **values) -> None:
        """Updates the import while `row`'s run holds it (renewing its lease)."""
        now = utc_now()
        async with self._db.write_session() as session, session.begin():
            await IMPORTS.renew(session, IMPORTS.key_of(row), row.run_id, now + RUN_LEASE, values={"updated_at": now, **values})

    async def finish(self, row: DeckImportRow, **values) -> None:
        """Writes how `row`'s run ended, if it still holds the import, and gives its lease up."""
        async with self._db.write_session() as session, session.begin():
            await IMPORTS.settle(session, IMPORTS.key_of(row), row.run_id, {"updated_at": utc_now(), **values})
