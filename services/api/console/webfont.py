"""The console's Korean web font: Hangul, Latin and punctuation cut from the Noto Sans CJK KR
face the project already installs (SPEC §5), as a ~1 MB variable woff2, so Korean shows in a
browser on a machine with no CJK system font and the page fetches nothing from the internet.

Cutting it costs 15-30 s of CPU (fontTools recompiles the CFF2 outlines), so it is done once
per font version into the user's cache folder: by `scripts/bootstrap.sh` at install
(`python -m services.api.console.webfont`), else by the API in the background at its first start.

    python -m services.api.console.webfont    # builds it (if missing) and prints its path
"""

import asyncio
import logging
import os
from importlib.metadata import version
from pathlib import Path

from litestar import get
from litestar.datastructures import CacheControlHeader
from litestar.response import File

from libs.fonts import BUNDLED_FONT, BUNDLED_KOREAN_FACE

log = logging.getLogger(__name__)

FONT_PATH = "/fonts/hangul.woff2"
FILE_PREFIX = "console-hangul-v"
FONT_DISTRIBUTION = "manimgx-fonts-cjk"
"""The wheel BUNDLED_FONT comes from; its version names the cut."""
SUBSET_VERSION = 1
"""Raise when the character ranges or options below change: the cached file is then rebuilt."""
RANGES = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x00FF),  # Latin-1 punctuation and letters
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2000, 0x206F),  # General Punctuation (quotes, dashes, ellipsis)
    (0x2190, 0x21FF),  # Arrows
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0x3130, 0x318F),  # Hangul Compatibility Jamo
    (0xAC00, 0xD7A3),  # every Hangul syllable, not only the 2,350 common ones
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
)
"""Also the CSS `unicode-range` of the face (style.css): other characters use system fonts."""


def cache_folder() -> Path:
    """systemd's CacheDirectory= (`$CACHE_DIRECTORY`), else the XDG cache folder."""
    if os.environ.get("CACHE_DIRECTORY"):
        return Path(os.environ["CACHE_DIRECTORY"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "slidereel"


def webfont_file() -> Path:
    """Named after what it was cut from, so an upgraded font package or range list rebuilds it,
    while a fresh virtualenv with the same package (a new clone, CI) finds it already cut."""
    return cache_folder() / f"{FILE_PREFIX}{SUBSET_VERSION}-{version(FONT_DISTRIBUTION)}.woff2"


def build_webfont() -> Path:
    """The woff2, cut now unless an earlier run (of any process) already did."""
    target = webfont_file()
    if target.exists():
        return target
    # Imported here: only this one-time build needs fontTools, not every API start.
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(BUNDLED_FONT, fontNumber=BUNDLED_KOREAN_FACE)
    options = subset.Options(layout_features=["*"], name_IDs=["*"], notdef_outline=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[code for first, last in RANGES for code in range(first, last + 1)])
    subsetter.subset(font)
    font.flavor = "woff2"
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed into place: two processes may build at once, and a reader
    # must never get half a font.
    draft = target.with_name(f".{target.name}.{os.getpid()}")
    font.save(draft)
    os.replace(draft, target)
    for outdated in target.parent.glob(f"{FILE_PREFIX}*.woff2"):
        if outdated != target:
            outdated.unlink(missing_ok=True)
    return target


class WebFont:
    """The API's handle on the font: built once in a thread, awaited by the route."""

    def __init__(self) -> None:
        self._built: asyncio.Task[Path] | None = None

    def start_building(self) -> None:
        self._built = asyncio.create_task(asyncio.to_thread(build_webfont), name="console-webfont")
        self._built.add_done_callback(_report_failure)

    async def path(self) -> Path:
        assert self._built is not None, "start_building() runs in the API's lifespan"
        return await asyncio.shield(self._built)


def _report_failure(built: asyncio.Task[Path]) -> None:
    if not built.cancelled() and built.exception() is not None:
        log.error(
            "the console's web font could not be built into %s; Korean shows only where the browser has a CJK font",
            cache_folder(),
            exc_info=built.exception(),
        )


@get(FONT_PATH, exclude_from_auth=True, include_in_schema=False, cache_control=CacheControlHeader(public=True, max_age=7 * 86400))
async def console_webfont(webfont: WebFont) -> File:
    return File(await webfont.path(), media_type="font/woff2", content_disposition_type="inline")


if __name__ == "__main__":
    print(build_webfont())
