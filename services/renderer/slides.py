"""Slide pictures with Pillow: a bold title and bullets, wrapped and shrunk until all of it fits."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw

from libs.contracts.script import Slide
from services.renderer.fonts import BOLD, REGULAR, FontBook
from services.renderer.mixed_font import MixedFont
from services.renderer.text import clean_text, is_blank, wrap

DEFAULT_BACKGROUND = "#1e2a4a"
LIGHT_TEXT, DARK_TEXT = "#ffffff", "#16181d"
THUMBNAIL_SIZE = (1280, 720)
MARGIN_X, MARGIN_Y = 0.07, 0.08
"""Fractions of the width and height left empty around the text."""
BODY_SIZE = 0.048
"""Bullet text size as a fraction of the height, before shrinking to fit."""
TITLE_SCALE = 1.6
MIN_BODY_PX = 1
"""Text is never cut off: far more than a script's limits allow still fits, however small."""
BULLET = "•"


@dataclass(frozen=True)
class PlacedLine:
    text: str
    font: MixedFont
    position: tuple[int, int]
    """Left and ascender-top of the line."""

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        left, top, right, bottom = self.font.bbox(self.text)
        x, y = self.position
        return left + x, top + y, right + x, bottom + y


@dataclass(frozen=True)
class SlideLayout:
    lines: list[PlacedLine]
    bottom: int
    """Where the last line's descender ends."""


def draw_slide(slide: Slide, size: tuple[int, int], fonts: FontBook) -> Image.Image:
    background = slide.background or DEFAULT_BACKGROUND
    image = Image.new("RGB", size, background)
    color = DARK_TEXT if _is_light(background) else LIGHT_TEXT
    draw = ImageDraw.Draw(image)
    for line in layout_slide(slide, size, fonts).lines:
        line.font.draw(draw, line.position, line.text, color)
    return image


def render_slides(
    slides: list[Slide], size: tuple[int, int], fonts: FontBook, folder: Path, on_slide: Callable[[int], None]
) -> list[Path]:
    """Each slide as a picture file in `folder`; `on_slide(count)` after each one."""
    paths = []
    for number, slide in enumerate(slides, start=1):
        # Uncompressed PPM: these files live only until the video is encoded, and even the
        # fastest PNG level spent ~60 ms a 1080p slide compressing plus ~25 ms decompressing.
        path = folder / f"slide-{number:04d}.ppm"
        draw_slide(slide, size, fonts).save(path)
        paths.append(path)
        on_slide(number)
    return paths


def save_thumbnail(slide: Slide, path: Path, fonts: FontBook) -> None:
    # Drawn at thumbnail size rather than scaled down, so text is laid out for it.
    draw_slide(slide, THUMBNAIL_SIZE, fonts).save(path, format="JPEG", quality=85)


def layout_slide(slide: Slide, size: tuple[int, int], fonts: FontBook) -> SlideLayout:
    """The largest text size at which the title and bullets fit inside the margins."""
    title = _visible(slide.title)
    bullets = [text for text in map(_visible, slide.bullets) if text]
    height = size[1]
    limit = height - round(height * MARGIN_Y)
    low, high = MIN_BODY_PX, max(MIN_BODY_PX, round(height * BODY_SIZE))
    while low < high:
        middle = (low + high + 1) // 2
        if _arrange(title, bullets, size, middle, fonts).bottom <= limit:
            low = middle
        else:
            high = middle - 1
    return _arrange(title, bullets, size, low, fonts)


def _arrange(title: str, bullets: list[str], size: tuple[int, int], body_px: int, fonts: FontBook) -> SlideLayout:
    width, height = size
    left = round(width * MARGIN_X)
    right = width - left
    y = round(height * MARGIN_Y)
    lines: list[PlacedLine] = []
    gap = 0
    if title:
        y = _place_paragraph(title, fonts.mixed(round(body_px * TITLE_SCALE), BOLD), left, right, y, lines)
        gap = round(body_px * 0.8)
    body_font = fonts.mixed(body_px, REGULAR)
    indent = round(body_px * 1.2)
    for bullet in bullets:
        y += gap
        lines.append(PlacedLine(BULLET, body_font, (left, y)))
        y = _place_paragraph(bullet, body_font, left + indent, right, y, lines)
        gap = round(body_px * 0.35)
    return SlideLayout(lines=lines, bottom=y)


def _place_paragraph(
    text: str, font: MixedFont, left: int, right: int, y: int, lines: list[PlacedLine]
) -> int:
    """Appends the wrapped lines of `text` starting at `y`; returns the y below them."""
    for line in wrap(text, lambda candidate: font.length(candidate) <= right - left):
        lines.append(PlacedLine(line, font, (left, y)))
        y += font.line_height
    return y


def _visible(text: str) -> str:
    """Cleaned `text`, or "" when it shows nothing."""
    text = clean_text(text).strip()
    return "" if is_blank(text) else text


def _is_light(color: str) -> bool:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue > 140
