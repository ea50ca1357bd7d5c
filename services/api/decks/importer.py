"""A deck upload becomes a DRAFT script: one image scene per page, narration from the speaker notes.

An import is a resource with progress, not a request that waits: at the 200-page cap a PDF
takes about 20 s to convert and a PPTX about 50 s (bench/decks.py), close to a proxy's read
timeout and long to watch without a sign of life. The request still refuses at once what can
be told at once: the format and a PPTX's declared sizes here, and what the converter's first
checks find (page count, password, what a PPTX really expands to), which the request waits
for; then it answers 202 and the conversion goes on in the background of this instance, one
process per deck (pages.py), at most DECK_MAX_CONCURRENT converting at once, each killed at
DECK_TIMEOUT_SEC. Its progress is written to the import's row, so any instance can answer
for it.

Nothing half-stored: the pages are stored as media only after the whole deck converted, and
the script is written last; pages stored before a failure are media no script names, which
the TTL sweep removes like any other.
"""

import asyncio
import contextlib
import hashlib
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import msgspec

from libs.contracts.codes import ErrorCode
from libs.contracts.script import MAX_HINT_CHARS, MAX_NARRATION_CHARS, MAX_TITLE_CHARS, Script
from libs.tasks import cancel_and_wait
from services.api.db.models import DeckImportRow, utc_now
from services.api.decks import pages
from services.api.decks.conversion import Conversion
from services.api.decks.intake import DeckKind, DeckLimits, deck_kind
from services.api.decks.records import DeckImports, ImportStatus, is_stale
from services.api.errors import ApplicationError, DeckConverterMissing, MediaInvalid
from services.api.media.identity import identity_of
from services.api.media.intake import StoredImage
from services.api.media.store import MediaStore
from services.api.scripts.store import ScriptStore, decode_script
from services.api.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_SEC = 10
"""How often a live conversion renews its lease on its row: far inside records.RUN_LEASE."""


class DeckImporter:
    def __init__(self, settings: Settings, scripts: ScriptStore, media: MediaStore, imports: DeckImports) -> None:
        self._settings = settings
        self._scripts = scripts
        self._media = media
        self._imports = imports
        self._limits = DeckLimits(
            max_bytes=settings.deck_max_bytes,
            max_pages=settings.deck_max_pages,
            max_unzipped_bytes=settings.deck_max_unzipped_bytes,
        )
        self._slots = asyncio.Semaphore(settings.deck_max_concurrent)
        self._running: set[asyncio.Task] = set()

    async def start(
        self, video_id: str, data: bytes, created_by: str, *, title: str | None, language: str
    ) -> tuple[DeckImportRow, bool]:
        """(the import, whether this request began its conversion) — False: the video has an
        import of these bytes already, converting or done."""
        # Reading a large PPTX's ZIP directory takes milliseconds: not on the event loop.
        kind = await asyncio.to_thread(deck_kind, data, self._limits)
        import_id = f"deck-{hashlib.sha256(data).hexdigest()[:24]}"
        previous = await self._imports.find(video_id, import_id)
        if previous is not None and previous.status != ImportStatus.FAILED.value and not is_stale(previous, utc_now()):
            return previous, False
        soffice = shutil.which(self._settings.soffice) if kind is DeckKind.PPTX else "soffice"
        if soffice is None:
            raise DeckConverterMissing(
                "A PPTX deck needs LibreOffice, which this server does not have (install libreoffice-impress, "
                "or set DECK_SOFFICE); upload the deck as a PDF instead.",
                missing="LibreOffice",
                setting="DECK_SOFFICE",
            )
        folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="slidereel-deck-"))
        conversion = None
        try:
            deck = await asyncio.to_thread(_written, folder, kind, data)
            conversion = await Conversion.start(
                kind.value,
                deck,
                folder,
                max_pages=self._limits.max_pages,
                max_unzipped_bytes=self._limits.max_unzipped_bytes,
                frame=self._settings.render_resolution,
                soffice=soffice,
            )
            async with _within(self._settings.deck_timeout_sec):
                accepted = await conversion.accepted()
            now = utc_now()
            row = DeckImportRow(
                video_id=video_id,
                import_id=import_id,
                run_id=uuid4().hex,
                source=kind.value,
                status=ImportStatus.CONVERTING.value,
                pages=accepted.pages,
                pages_done=0,
                message="Waiting for a free converter",
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            if not await self._imports.begin(row, previous):  # another request began it first
                await _discard(conversion, folder)
                return await self._imports.get(video_id, import_id), False
        except BaseException:
            await _discard(conversion, folder)
            raise
        script_title = title or accepted.title or f"Imported {kind.value.upper()} deck"
        task = asyncio.create_task(
            self._convert(row, conversion, folder, script_title, language), name=f"deck-import {video_id}/{import_id}"
        )
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return row, True

    async def stop(self) -> None:
        """Ends this instance's conversions: each import says it was interrupted."""
        await cancel_and_wait(self._running)

    async def _convert(self, row: DeckImportRow, conversion: Conversion, folder: Path, title: str, language: str) -> None:
        heartbeat = asyncio.create_task(self._renew_periodically(row))
        try:
            async with self._slots:
                await self._imports.record(row, message="Converting")
                conversion.go()
                async with _within(self._settings.deck_timeout_sec):
                    while (event := await conversion.next_event()) is not None:
                        await self._imports.record(row, **_progress(event, row.pages))
                    manifest = await conversion.manifest()
            await self._imports.record(row, message="Storing pages")
            scenes = [
                await self._scene(row, folder / page.file, page, number) for number, page in enumerate(manifest.pages, start=1)
            ]
            script, _ = await self._scripts.put(
                row.video_id, row.import_id, _script(scenes, title, language), row.created_by, replace=False
            )
            await self._imports.finish(
                row,
                status=ImportStatus.SUCCEEDED.value,
                pages_done=len(scenes),
                message="Imported",
                script_id=script.script_id,
                scenes_without_narration=decode_script(script).scenes_without_narration(),
            )
        except ApplicationError as error:
            await self._failed(row, error.error_code, error.message, error.detail)
        except asyncio.CancelledError:
            await self._failed(row, ErrorCode.WORKER_LOST, "The API instance converting the deck stopped; upload it again.")
            raise
        except Exception:
            log.exception("deck import %s/%s failed", row.video_id, row.import_id)
            await self._failed(row, ErrorCode.INTERNAL_ERROR, "The deck could not be imported; try again later.")
        finally:
            await cancel_and_wait((heartbeat,))
            await _discard(conversion, folder)

    async def _failed(self, row: DeckImportRow, code: ErrorCode, message: str, detail: dict | None = None) -> None:
        await self._imports.finish(
            row,
            status=ImportStatus.FAILED.value,
            message="Failed",
            error_code=code.value,
            error_message=message,
            error_detail=detail or {},
        )

    async def _renew_periodically(self, row: DeckImportRow) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SEC)
            try:
                await self._imports.record(row)
            except Exception:  # the database away for a moment: the next beat tries again
                log.warning("deck import %s/%s: could not renew its lease", row.video_id, row.import_id, exc_info=True)

    async def _scene(self, row: DeckImportRow, file: Path, page: pages.Page, number: int) -> dict:
        if len(page.notes) > MAX_NARRATION_CHARS:
            raise MediaInvalid(
                f"The speaker notes of page {number} are {len(page.notes):,} characters; a scene's "
                f"narration may be at most {MAX_NARRATION_CHARS:,}. Shorten them and upload the deck "
                "again.",
                page=number,
                reason="notes_too_long",
            )
        data = await asyncio.to_thread(file.read_bytes)
        sha256, media_id = identity_of(data)
        image = StoredImage(
            data=data,
            content_type="image/jpeg",
            width=page.width,
            height=page.height,
            sha256=sha256,
            media_id=media_id,
        )
        stored, _ = await self._media.add(row.video_id, image, row.created_by)
        return {"narration": page.notes, "slide": {"image": stored.media_id, "fit": "contain"}, "hint": _hint(page.text)}


def _progress(event: pages.Event, total: int) -> dict:
    if event.kind == "converting":
        return {"message": "Converting the PPTX with LibreOffice"}
    return {"pages_done": event.pages, "message": f"Rendered page {event.pages} of {total}"}


def _written(folder: Path, kind: DeckKind, data: bytes) -> Path:
    deck = folder / f"deck.{kind.value}"
    deck.write_bytes(data)
    return deck


async def _discard(conversion: Conversion | None, folder: Path) -> None:
    if conversion is not None:
        await conversion.close()
    await asyncio.to_thread(shutil.rmtree, folder, ignore_errors=True)


@contextlib.asynccontextmanager
async def _within(seconds: float) -> AsyncIterator[None]:
    """DECK_TIMEOUT_SEC over what the body awaits, running out as the deck's refusal (422)."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise MediaInvalid(
            f"Converting the deck took longer than {seconds:g} s (DECK_TIMEOUT_SEC); it was stopped.", reason="timeout"
        ) from None


def _hint(text: str) -> str:
    """The page's text for whoever writes the narration; a hint, so a very long one is cut (marked …)."""
    return text if len(text) <= MAX_HINT_CHARS else text[: MAX_HINT_CHARS - 1] + "…"


def _script(scenes: list[dict], title: str, language: str) -> Script:
    try:
        return msgspec.convert({"title": title.strip()[:MAX_TITLE_CHARS], "language": language, "scenes": scenes}, type=Script)
    except msgspec.ValidationError as error:  # e.g. more than 100,000 characters of notes in all
        raise MediaInvalid(f"The deck cannot become a script: {error}", reason="script_limits") from error
