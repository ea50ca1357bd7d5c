"""The font the project ships (SPEC §5: fonts come with the Python install): Noto Sans CJK
from the `manimgx_fonts_cjk` wheel. The renderer draws slides with it; the API cuts the
console's web font from it."""

from pathlib import Path

import manimgx_fonts_cjk

BUNDLED_FONT = Path(manimgx_fonts_cjk.__file__).with_name("NotoSansCJK-VF.otf.ttc")
BUNDLED_KOREAN_FACE = 1
"""Face 1 of the collection is "Noto Sans CJK KR": Korean glyph forms for the shared Han set."""
