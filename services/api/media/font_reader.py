"""Reads an uploaded TTF or OTF: its family name and whether it can set Korean text. Runs in the
reader process (probe.py), after fonts.py checked the table directory in the API's.

fontTools reads the tables the facts need; FreeType (through Pillow), the rasteriser the
renderer draws slides with, then opens the font and lays out a line, so a font it cannot use is
refused now rather than failing a render later.
"""

import io

from fontTools.ttLib import TTFont
from PIL import ImageFont

from services.api.errors import MediaInvalid
from services.api.media.facts import FontFacts

KS_X_1001_HANGUL = frozenset(
    ord(bytes((lead, trail)).decode("euc_kr")) for lead in range(0xB0, 0xC9) for trail in range(0xA1, 0xFF)
)
"""The 2,350 precomposed syllables of the Korean national character set (EUC-KR rows 16–40).

The rule for `covers_hangul`: a font has a glyph for each of them. Everyday Korean is written
in these (Korean fonts were built to exactly this set for decades), while all 11,172
syllables of U+AC00–U+D7A3 would refuse many good fonts for syllables no script uses; a font
with only a few syllables (a logo face, a subset) does not cover Hangul."""

MAX_FAMILY_CHARS = 200
SAMPLE_TEXT = "Aa 가"


def read_font(data: bytes) -> FontFacts:
    # Any exception: fontTools' parsers raise whatever a malformed table makes them hit
    # (struct.error, AssertionError, KeyError, IndexError, TTLibError, …), and every one of
    # them means the same to the uploader.
    try:
        font = TTFont(io.BytesIO(data), lazy=True, recalcBBoxes=False, recalcTimestamp=False)
        family = font["name"].getBestFamilyName()
        characters = font.getBestCmap()
    except Exception as error:
        raise MediaInvalid(
            "The font's tables cannot be read: it is corrupt.", reason="corrupt", parser=str(error)[:200]
        ) from error
    if not family:
        raise MediaInvalid("The font names no family (name IDs 1 and 16 are missing).", reason="no_family")
    if not characters:
        raise MediaInvalid("The font maps no Unicode characters to glyphs (no usable cmap subtable).", reason="no_cmap")
    try:
        ImageFont.truetype(io.BytesIO(data), size=32).getbbox(SAMPLE_TEXT)
    except Exception as error:  # FreeType's errors arrive as OSError, ValueError, …
        raise MediaInvalid(
            "FreeType, which draws the slides, cannot use this font; it may be corrupt.",
            reason="rasteriser",
            rasteriser=str(error)[:200],
        ) from error
    return FontFacts(family=family[:MAX_FAMILY_CHARS], covers_hangul=KS_X_1001_HANGUL.issubset(characters))
