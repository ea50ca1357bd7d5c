"""A video's uploaded media (images, fonts, audio): the file in the asset store, the row in the media table.

The file is published first, then the row written: a crash in between leaves a file nothing
names (the next upload of the same bytes adopts it), never a row without its file. Both
writes are idempotent, so the same bytes uploaded twice, even at once, are one media.
"""

import asyncio
from typing import Any

from libs.storage import MEDIA_FILE, AssetStore, StorageError, media_key
from services.api.db.engine import Database
from services.api.db.inserts import insert_of
from services.api.db.models import MediaRow, utc_now
from services.api.db.pages import page_of
from services.api.errors import AssetStoreUnavailable, MediaNotFound
from services.api.media.audio import StoredAudio
from services.api.media.fonts import StoredFont
from services.api.media.intake import StoredImage
from services.api.media.kinds import StoredMedia


class MediaStore:
    def __init__(self, db: Database, store: AssetStore) -> None:
        self._db = db
        self._store = store

    async def add(self, video_id: str, media: StoredMedia, created_by: str) -> tuple[MediaRow, bool]:
        """Stores the media unless the video has it already. Returns (row, created)."""
        existing = await self._find(video_id, media.media_id)
        if existing is not None:
            return existing, False
        try:
            await asyncio.to_thread(self._publish, media_key(video_id, media.media_id), media.data)
        except StorageError as error:
            raise AssetStoreUnavailable("The asset store did not answer; try again later") from error
        row = MediaRow(
            video_id=video_id,
            media_id=media.media_id,
            sha256=media.sha256,
            content_type=media.content_type,
            bytes=len(media.data),
            created_by=created_by,
            created_at=utc_now(),
            **_facts(media),
        )
        async with self._db.write_session() as session, session.begin():
            inserted = await session.scalar(
                insert_of(self._db.dialect, row)
                .on_conflict_do_nothing(index_elements=["video_id", "media_id"])
                .returning(MediaRow.media_id)
            )
        if inserted is None:  # the same bytes, uploaded at the same moment: theirs stands
            return await self.get(video_id, media.media_id), False
        return row, True

    async def get(self, video_id: str, media_id: str) -> MediaRow:
        row = await self._find(video_id, media_id)
        if row is None:
            raise MediaNotFound(f"Media {media_id!r} of video {video_id!r} does not exist.", video_id=video_id, media_id=media_id)
        return row

    async def page(self, video_id: str, limit: int, offset: int) -> tuple[list[MediaRow], int]:
        async with self._db.read_session() as session:
            return await page_of(
                session, MediaRow, MediaRow.video_id == video_id, (MediaRow.created_at.desc(), MediaRow.media_id), limit, offset
            )

    def read(self, video_id: str, row: MediaRow):
        """The stored file's bytes, in chunks."""
        return self._store.read(media_key(video_id, row.media_id), MEDIA_FILE, 0, row.bytes)

    async def _find(self, video_id: str, media_id: str) -> MediaRow | None:
        async with self._db.read_session() as session:
            return await session.get(MediaRow, (video_id, media_id))

    def _publish(self, key: str, data: bytes) -> None:
        staging = self._store.staging(key)
        try:
            (staging / MEDIA_FILE).write_bytes(data)
            self._store.publish(staging, key)  # already published (same bytes): kept as it is
        except BaseException:
            self._store.discard(staging)
            raise


def _facts(media: StoredMedia) -> dict[str, Any]:
    """The row's kind and the columns of that kind's facts."""
    match media:
        case StoredImage():
            return {"kind": "image", "width": media.width, "height": media.height}
        case StoredFont():
            return {"kind": "font", "family": media.facts.family, "covers_hangul": media.facts.covers_hangul}
        case StoredAudio():
            facts = media.facts
            return {
                "kind": "audio",
                "duration_sec": facts.duration_sec,
                "sample_rate": facts.sample_rate,
                "channels": facts.channels,
                "codec": facts.codec,
            }
