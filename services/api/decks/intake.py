"""Which kind of deck the bytes are, told by the bytes: a PDF, a PPTX, or a named refusal.

Cheap checks only, in the API process: the file's signature, and for a PPTX the ZIP's central
directory (its member names, count and declared sizes), so an obvious zip bomb or a Word
document is refused before a conversion process starts. The conversion (pages.py) then
checks what the members really expand to.
"""

import io
import zipfile
from dataclasses import dataclass
from enum import Enum

from services.api.errors import MediaInvalid, MediaTooLarge, UnsupportedMediaType


class DeckKind(str, Enum):
    PDF = "pdf"
    PPTX = "pptx"


@dataclass(frozen=True)
class DeckLimits:
    max_bytes: int
    """The largest upload body; enforced by the caller (413)."""
    max_pages: int
    max_unzipped_bytes: int
    """What a PPTX's members may expand to, together."""


MAX_ZIP_MEMBERS = 10_000
"""A real deck has tens to a few thousand parts; a million empty members is a bomb of another kind."""
BOMB_RATIO = 200
"""Expanded ÷ compressed past which a large PPTX is a bomb: XML compresses about 10:1, pictures 1:1."""
BOMB_RATIO_FLOOR = 16 * 1024 * 1024
"""Below this expanded size the ratio does not matter (a small deck of repetitive XML is fine)."""

_PDF_SIGNATURE = b"%PDF-"
_PDF_SIGNATURE_WINDOW = 1024
"""PDF readers accept the header anywhere in the first 1 KiB (some writers put junk before it)."""
_PPTX_PARTS = ("[Content_Types].xml", "ppt/presentation.xml")
_OTHER_OOXML = (("word/document.xml", "a Word document (DOCX)"), ("xl/workbook.xml", "an Excel workbook (XLSX)"))
_COMMON_MISTAKES = (
    (b"\xd0\xcf\x11\xe0", "a legacy or password-protected Office file (such as .ppt); save it as .pptx without a password"),
    (b"\x89png", "an image (PNG); upload images as media"),
    (b"\xff\xd8\xff", "an image (JPEG); upload images as media"),
    (b"{\\rtf", "an RTF document"),
    (b"<!doctype html", "HTML"),
    (b"<html", "HTML"),
    (b"<?xml", "XML"),
)


def deck_kind(data: bytes, limits: DeckLimits) -> DeckKind:
    """PDF or PPTX; raises UnsupportedMediaType (neither), MediaTooLarge (a PPTX that declares
    too much) or MediaInvalid (a broken ZIP)."""
    if _PDF_SIGNATURE in data[:_PDF_SIGNATURE_WINDOW]:
        return DeckKind.PDF
    if data.startswith(b"PK\x03\x04"):
        _check_pptx(data, limits)
        return DeckKind.PPTX
    if not data:
        raise UnsupportedMediaType("The upload is empty: send a PDF or PPTX deck.", detected="empty")
    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    detected = next((what for prefix, what in _COMMON_MISTAKES if head.startswith(prefix)), None)
    if detected is None:
        raise UnsupportedMediaType(
            "The upload is not a PDF or PPTX deck (judged by its bytes, not its name or Content-Type).", detected="unknown"
        )
    raise UnsupportedMediaType(f"The upload is {detected}, not a PDF or PPTX deck.", detected=detected)


def _check_pptx(data: bytes, limits: DeckLimits) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise MediaInvalid(
            "The upload begins like a ZIP archive (PPTX) but its directory cannot be read: it is corrupt or truncated.",
            reason="corrupt",
            decoder=str(error),
        ) from error
    names = {member.filename for member in members}
    if not all(part in names for part in _PPTX_PARTS):
        detected = next((what for part, what in _OTHER_OOXML if part in names), "a ZIP archive")
        raise UnsupportedMediaType(f"The upload is {detected}, not a PPTX deck.", detected=detected)
    if len(members) > MAX_ZIP_MEMBERS:
        raise MediaTooLarge(
            f"The PPTX has {len(members):,} parts; at most {MAX_ZIP_MEMBERS:,} are accepted.",
            members=len(members),
            reason="zip_bomb",
        )
    expanded = sum(member.file_size for member in members)
    if expanded > limits.max_unzipped_bytes or (expanded > BOMB_RATIO_FLOOR and expanded > BOMB_RATIO * len(data)):
        raise MediaTooLarge(
            f"The PPTX declares {expanded:,} bytes once unzipped from {len(data):,}; at most "
            f"{limits.max_unzipped_bytes:,} (DECK_MAX_UNZIPPED_BYTES) and {BOMB_RATIO}:1 are accepted.",
            unzipped_bytes=expanded,
            max_unzipped_bytes=limits.max_unzipped_bytes,
            reason="zip_bomb",
        )
