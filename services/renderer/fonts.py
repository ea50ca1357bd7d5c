"""The slide font: Noto Sans CJK KR from the `manimgx_fonts_cjk` wheel, or `RENDER_FONT_PATH`."""

from pathlib import Path

import manimgx_fonts_cjk
from PIL import ImageFont

BUNDLED_FONT = Path(manimgx_fonts_cjk.__file__).with_name("NotoSansCJK-VF.otf.ttc")
BUNDLED_KOREAN_FACE = 1
"""Face 1 of the collection is "Noto Sans CJK KR": Korean glyph forms for the shared Han set."""
REGULAR, BOLD = 400, 700


class FontBook:
    """One font file's faces by (size, weight), each loaded once.

    FreeType faces are not safe to share between threads, so give each job its own book.
    Characters the font lacks are drawn as its .notdef box, which keeps them visible.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = str(path or BUNDLED_FONT)
        self._index = BUNDLED_KOREAN_FACE if path is None else 0
        self._fonts: dict[tuple[int, int], ImageFont.FreeTypeFont] = {}

    def get(self, size: int, weight: int = REGULAR) -> ImageFont.FreeTypeFont:
        key = (size, weight)
        if key not in self._fonts:
            self._fonts[key] = self._load(size, weight)
        return self._fonts[key]

    def _load(self, size: int, weight: int) -> ImageFont.FreeTypeFont:
        font = ImageFont.truetype(self._path, size, index=self._index)
        try:
            axes = font.get_variation_axes()
        except OSError:  # not a variable font: it has the one weight it has
            return font
        font.set_variation_by_axes([weight if axis["name"] == b"Weight" else axis["default"] for axis in axes])
        return font
