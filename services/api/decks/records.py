"""Deck import rows: begun once per deck and video (or begun again after a failure), then
written only by the conversion that owns them (its `run_id`)."""

from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import and_, func, or_, select, update

from services.api.db.engine import Database
from services.api.db.inserts import insert_of
from services.api.db.models import DeckImportRow, utc_now
from services.api.errors import DeckImportNotFound


class ImportStatus(str, Enum):
    CONVERTING = "CONVERTING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


STALE_AFTER = timedelta(seconds=60)
"""A CONVERTING import whose row went this long untouched lost its API instance (the owner
touches it every decks/importer.py HEARTBEAT_SEC): it counts as failed and may begin again."""


def is_stale(row: DeckImportRow, now: datetime) -> bool:
    return row.status == ImportStatus.CONVERTING.value and row.updated_at < now - STALE_AFTER


def _restartable(previous: DeckImportRow):
    """The SQL of "that run failed or went stale" (is_stale), decided inside the UPDATE so two
    requests cannot both begin the import again."""
    return and_(DeckImportRow.run_id == previous.run_id,
                or_(DeckImportRow.status == ImportStatus.FAILED.value, DeckImportRow.updated_at < utc_now() - STALE_AFTER))


class DeckImports:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def find(self, video_id: str, import_id: str) -> DeckImportRow | None:
        async with self._db.read_session() as session:
            return await session.get(DeckImportRow, (video_id, import_id))

    async def get(self, video_id: str, import_id: str) -> DeckImportRow:
        row = await self.find(video_id, import_id)
        if row is None:
            raise DeckImportNotFound(f"Deck import {import_id!r} of video {video_id!r} does not exist.",
                                     video_id=video_id, import_id=import_id)
        return row

    async def page(self, video_id: str, limit: int, offset: int) -> tuple[list[DeckImportRow], int]:
        async with self._db.read_session() as session:
            where = DeckImportRow.video_id == video_id
            total = await session.scalar(select(func.count()).select_from(DeckImportRow).where(where))
            rows = await session.scalars(select(DeckImportRow).where(where)
                                         .order_by(DeckImportRow.created_at.desc(), DeckImportRow.import_id)
                                         .limit(limit).offset(offset))
            return list(rows), total or 0

    async def begin(self, row: DeckImportRow, previous: DeckImportRow | None) -> bool:
        """Writes `row` as the import's new run: inserted, or over `previous` if that run failed
        or went stale. False when another request began it first (then leave it to that one)."""
        async with self._db.write_session() as session, session.begin():
            if previous is None:
                statement = insert_of(self._db.dialect, row).on_conflict_do_nothing(
                    index_elements=["video_id", "import_id"]).returning(DeckImportRow.import_id)
                return await session.scalar(statement) is not None
            restarted = await session.execute(
                update(DeckImportRow)
                .where(DeckImportRow.video_id == row.video_id, DeckImportRow.import_id == row.import_id,
                       _restartable(previous))
                .values(run_id=row.run_id, status=row.status, pages=row.pages, pages_done=0, message=row.message,
                        script_id=None, scenes_without_narration=None, error_code=None, error_message=None,
                        error_detail=None, created_by=row.created_by, updated_at=row.updated_at))
            return restarted.rowcount == 1

    async def record(self, row: DeckImportRow, **values) -> None:
        """Updates the import while `row`'s run owns it and it is converting (touching it too)."""
        async with self._db.write_session() as session, session.begin():
            await session.execute(
                update(DeckImportRow)
                .where(DeckImportRow.video_id == row.video_id, DeckImportRow.import_id == row.import_id,
                       DeckImportRow.run_id == row.run_id, DeckImportRow.status == ImportStatus.CONVERTING.value)
                .values(updated_at=utc_now(), **values))
