"""What the deck endpoints return."""

from typing import Any

import msgspec

from services.api.decks.intake import DeckKind
from services.api.decks.records import ImportStatus


class DeckImportView(msgspec.Struct, kw_only=True):
    video_id: str
    import_id: str
    """`deck-` + 24 hex digits of the deck's SHA-256: the same deck posted again is the same import."""
    source: DeckKind
    status: ImportStatus
    pages: int
    """One image scene per page, in page order; known as soon as the import is accepted."""
    pages_done: int
    """Pages drawn so far (a PPTX stays at 0 while LibreOffice converts it)."""
    message: str
    script_id: str | None
    """The DRAFT script, once SUCCEEDED."""
    scenes_without_narration: list[int]
    """Once SUCCEEDED: 0-based indexes of the scenes still to be written (pages without speaker
    notes, all of a PDF's); approval refuses the script until they are (NARRATION_MISSING)."""
    error_code: str | None
    error_message: str | None
    error_detail: dict[str, Any] | None
    created_by: str
    created_at: str
    updated_at: str


class DeckImportPage(msgspec.Struct, kw_only=True):
    video_id: str
    imports: list[DeckImportView]
    total: int
    limit: int
    offset: int
