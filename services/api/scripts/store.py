"""Script persistence: create, replace while DRAFT, approve once, read."""

from uuid import uuid4

import msgspec
from sqlalchemy.exc import IntegrityError

from libs.contracts.script import Script
from services.api.db.engine import Database
from services.api.db.models import ScriptRow, utc_now
from services.api.db.pages import page_of
from services.api.errors import NarrationMissing, ScriptImmutable, ScriptNotFound
from services.api.media.named import NamedMedia, require_named_media
from services.api.scripts.schemas import ScriptStatus
from services.api.themes.script_check import require_usable_theme


def decode_script(row: ScriptRow) -> Script:
    return msgspec.json.decode(row.body, type=Script)


class ScriptStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(
        self, video_id: str, script_id: str, script: Script, created_by: str, *, replace: bool = True
    ) -> tuple[ScriptRow, bool]:
        """Creates the script, or replaces it while it is a DRAFT (unless `replace` is False: then
        an existing script is returned as it is). Returns (row, created)."""
        try:
            return await self._put(video_id, script_id, script, created_by, replace)
        except IntegrityError:
            # Another API instance created the same script between our read and our insert
            # (PostgreSQL; SQLite's one writer cannot interleave): now it exists, so replace it.
            return await self._put(video_id, script_id, script, created_by, replace)

    async def _put(self, video_id: str, script_id: str, script: Script, created_by: str, replace: bool) -> tuple[ScriptRow, bool]:
        now = utc_now()
        async with self._db.write_session() as session, session.begin():
            await require_named_media(session, named_media(script), video_id)
            await require_usable_theme(session, script)
            # Locked, so an approval committed meanwhile by another instance cannot be overwritten.
            row = await session.get(ScriptRow, (video_id, script_id), with_for_update=True)
            if row is None:
                row = ScriptRow(
                    video_id=video_id,
                    script_id=script_id,
                    status=ScriptStatus.DRAFT.value,
                    body=msgspec.json.encode(script),
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                return row, True
            if not replace:
                return row, False
            if row.status == ScriptStatus.APPROVED.value:
                raise ScriptImmutable(
                    "An approved script cannot be changed; create a new script instead.",
                    video_id=video_id,
                    script_id=script_id,
                )
            row.body = msgspec.json.encode(script)
            row.updated_at = now
            return row, False

    async def create(self, video_id: str, script: Script, created_by: str) -> ScriptRow:
        row, _ = await self.put(video_id, f"script-{uuid4().hex[:16]}", script, created_by)
        return row

    async def approve(self, video_id: str, script_id: str) -> ScriptRow:
        async with self._db.write_session() as session, session.begin():
            row = await self._require(session, video_id, script_id, lock=True)
            if row.status != ScriptStatus.APPROVED.value:
                _require_narration(decode_script(row), video_id, script_id)
                row.status = ScriptStatus.APPROVED.value
                row.approved_at = row.updated_at = utc_now()
            return row

    async def find(self, video_id: str, script_id: str) -> ScriptRow | None:
        async with self._db.read_session() as session:
            return await session.get(ScriptRow, (video_id, script_id))

    async def get(self, video_id: str, script_id: str) -> ScriptRow:
        async with self._db.read_session() as session:
            return await self._require(session, video_id, script_id)

    async def page(self, video_id: str, limit: int, offset: int) -> tuple[list[ScriptRow], int]:
        async with self._db.read_session() as session:
            return await page_of(
                session,
                ScriptRow,
                ScriptRow.video_id == video_id,
                (ScriptRow.created_at.desc(), ScriptRow.script_id),
                limit,
                offset,
            )

    @staticmethod
    async def _require(session, video_id: str, script_id: str, *, lock: bool = False) -> ScriptRow:
        row = await session.get(ScriptRow, (video_id, script_id), with_for_update=lock)
        if row is None:
            raise ScriptNotFound.of(video_id, script_id)
        return row


def named_media(script: Script) -> list[NamedMedia]:
    """Every media the script names: each image slide's picture, and the music bed."""
    named = [
        NamedMedia(f"$.scenes[{index}].slide.image", scene.slide.image, "image")
        for index, scene in enumerate(script.scenes)
        if scene.slide.image
    ]
    if script.music is not None:
        named.append(NamedMedia("$.music.media", script.music.media, "audio"))
    return named


def _require_narration(script: Script, video_id: str, script_id: str) -> None:
    """Raises NarrationMissing naming every scene with nothing to speak: a DRAFT may hold them
    (a deck page without speaker notes), an approved script may not, so none reaches a renderer."""
    blank = script.scenes_without_narration()
    if not blank:
        return
    numbers = ", ".join(str(index + 1) for index in blank)
    errors = [{"field": f"$.scenes[{index}].narration", "message": "no narration to speak"} for index in blank]
    raise NarrationMissing(
        f"Scene {numbers} of {len(script.scenes)} {'has' if len(blank) == 1 else 'have'} no narration; "
        "write it before approving.",
        video_id=video_id,
        script_id=script_id,
        scenes=blank,
        errors=errors,
    )
