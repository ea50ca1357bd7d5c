"""What the sandboxed readers (probe.py) report back about an uploaded font or audio file.

Plain Structs, so the API process decodes the report without importing fontTools or PyAV.
"""

from typing import Any

import msgspec

REFUSED_EXIT_STATUS = 3
"""How probe.py exits when it wrote a Refusal rather than facts."""


class FontFacts(msgspec.Struct, kw_only=True, frozen=True):
    family: str
    """The typographic family (name ID 16), else the legacy family (name ID 1)."""
    covers_hangul: bool
    """Every one of the 2,350 KS X 1001 Hangul syllables has a glyph (font_reader.py says why that set)."""


class AudioFacts(msgspec.Struct, kw_only=True, frozen=True):
    duration_sec: float
    """As decoded, not as the header claims."""
    sample_rate: int
    channels: int
    codec: str
    """FFmpeg's name of the codec: pcm_s16le, mp3, aac, opus, vorbis, flac, …"""


class Refusal(msgspec.Struct, kw_only=True, frozen=True):
    """A refusal raised in the reader's process, carried over to be raised again in the API's."""

    error_code: str
    message: str
    detail: dict[str, Any] = {}
