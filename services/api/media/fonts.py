"""Uploaded fonts (for themes, SPEC §8.3): TTF and OTF, told by their bytes, stored as uploaded
(a font cannot be re-encoded the way an image is).

The table directory is checked here, in the API's process, with plain struct reads: a font
whose directory claims more tables than any font has, or tables past the end of the file, is
refused before any parser sees it. The tables themselves are read in a reader process
(font_reader.py through sandbox.py), where a hostile table can cost that process only.
"""

import struct
from dataclasses import dataclass

from services.api.errors import MediaInvalid, MediaTooLarge, UnsupportedMediaType
from services.api.media.facts import FontFacts
from services.api.media.identity import identity_of
from services.api.media.sandbox import Sandbox

FONT_CONTENT_TYPES = {b"\x00\x01\x00\x00": "font/ttf", b"true": "font/ttf", b"OTTO": "font/otf"}
"""sfnt versions: TrueType outlines (Windows, and Apple's `true`), CFF outlines (`OTTO`)."""
_OTHER_FONT_CONTAINERS = {
    b"ttcf": "a font collection (TTC)",
    b"wOFF": "a WOFF web font",
    b"wOF2": "a WOFF2 web font",
}
MAX_TABLES = 100
"""About 50 table tags are registered in OpenType and Apple's AAT; a real font carries 10 to 40."""
REQUIRED_TABLES = (b"cmap", b"head", b"hhea", b"hmtx", b"maxp", b"name")
OUTLINE_TABLES = (b"glyf", b"CFF ", b"CFF2")
_OFFSET_TABLE = struct.Struct(">4sH6x")
_TABLE_RECORD = struct.Struct(">4s4xII")
"""tag, (checksum), offset, length."""


@dataclass(frozen=True)
class StoredFont:
    data: bytes
    content_type: str
    facts: FontFacts
    sha256: str
    media_id: str


def is_font(data: bytes) -> bool:
    """The bytes begin like a font file, an accepted one or not (the others are refused by name)."""
    return data[:4] in FONT_CONTENT_TYPES or data[:4] in _OTHER_FONT_CONTAINERS


async def intake_font(data: bytes, sandbox: Sandbox) -> StoredFont:
    """The font to store for these bytes. Raises UnsupportedMediaType (a collection or a web
    font), MediaTooLarge (too many tables) or MediaInvalid (a broken directory, a missing
    table, or what the reader refused)."""
    content_type = _content_type(data)
    check_table_directory(data)
    facts = await sandbox.read("font", data, FontFacts)
    sha256, media_id = identity_of(data)
    return StoredFont(data=data, content_type=content_type, facts=facts, sha256=sha256, media_id=media_id)


def _content_type(data: bytes) -> str:
    other = _OTHER_FONT_CONTAINERS.get(data[:4])
    if other is not None:
        raise UnsupportedMediaType(
            f"The upload is {other}; only single TTF or OTF fonts are accepted: convert it, or extract one face.",
            detected=other,
        )
    return FONT_CONTENT_TYPES[data[:4]]


def check_table_directory(data: bytes) -> None:
    """Raises unless the directory lists at most MAX_TABLES distinct tables, each wholly inside
    the file, among them the ones every font needs."""
    if len(data) < _OFFSET_TABLE.size:
        raise MediaInvalid("The font is truncated: it ends inside its header.", reason="truncated", bytes=len(data))
    _, count = _OFFSET_TABLE.unpack_from(data)
    if count > MAX_TABLES:
        raise MediaTooLarge(
            f"The font's directory lists {count:,} tables; at most {MAX_TABLES} are accepted.",
            tables=count,
            max_tables=MAX_TABLES,
        )
    directory_end = _OFFSET_TABLE.size + count * _TABLE_RECORD.size
    if directory_end > len(data):
        raise MediaInvalid(
            f"The font is truncated: its directory of {count} tables runs past the end of the {len(data):,}-byte file.",
            reason="truncated",
        )
    tags: set[bytes] = set()
    for index in range(count):
        tag, offset, length = _TABLE_RECORD.unpack_from(data, _OFFSET_TABLE.size + index * _TABLE_RECORD.size)
        name = tag.decode("latin-1")
        if tag in tags:
            raise MediaInvalid(f"The font lists its {name!r} table twice: it is corrupt.", reason="duplicate_table", table=name)
        if offset < directory_end or offset + length > len(data):
            raise MediaInvalid(
                f"The font's {name!r} table claims {length:,} bytes at offset {offset:,}, outside the "
                f"{len(data):,}-byte file: it is truncated or corrupt.",
                reason="table_outside_file",
                table=name,
                offset=offset,
                length=length,
            )
        tags.add(tag)
    missing = [tag.decode() for tag in REQUIRED_TABLES if tag not in tags]
    if tags.isdisjoint(OUTLINE_TABLES):
        missing.append("glyf, CFF or CFF2 (the outlines)")
    if missing:
        raise MediaInvalid(
            f"The font lacks tables every font needs: {', '.join(missing)}.", reason="missing_tables", missing=missing
        )
