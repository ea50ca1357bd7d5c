"""What every slide layout is made of: paragraphs wrapped inside a box at the largest size that
fits it, and the rectangles drawn under them; and the painting of such a layout onto a slide."""

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from PIL import Image, ImageDraw

from libs.contracts.script import is_blank
from services.renderer.mixed_font import MixedFont
from services.renderer.palette import Ink, Palette
from services.renderer.text import clean_text, wrap

MARGIN_X, MARGIN_Y = 0.07, 0.08
"""Fractions of the width and height left empty around the text."""
MIN_BODY_PX = 1
"""Text is never cut off: far more than a script's limits allow still fits, however small."""
SHADE_COLOR, SHADE_ALPHA = (0, 0, 0), 150
"""Dark enough for white text over any picture, light enough to leave the picture visible."""
Paint = Literal["accent", "shade"]
"""A rectangle in the accent colour, or a shade that darkens what is under it."""


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def margin_box(size: tuple[int, int]) -> Box:
    """The frame less its margins: where a slide's text goes."""
    width, height = size
    left, top = round(width * MARGIN_X), round(height * MARGIN_Y)
    return Box(left, top, width - left, height - top)


@dataclass(frozen=True)
class PlacedLine:
    text: str
    font: MixedFont
    position: tuple[int, int]
    """Left and ascender-top of the line."""
    ink: Ink = "text"

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        left, top, right, bottom = self.font.bbox(self.text)
        x, y = self.position
        return left + x, top + y, right + x, bottom + y


@dataclass(frozen=True)
class Shape:
    box: Box
    paint: Paint


@dataclass(frozen=True)
class SlideLayout:
    lines: list[PlacedLine]
    bottom: int
    """Where the last line's descender (or the lowest shape) ends."""
    shapes: list[Shape] = field(default_factory=list)
    """Drawn before, so under, the lines."""

    def moved_down(self, dy: int) -> "SlideLayout":
        return SlideLayout(
            lines=[replace(line, position=(line.position[0], line.position[1] + dy)) for line in self.lines],
            bottom=self.bottom + dy,
            shapes=[Shape(Box(s.box.left, s.box.top + dy, s.box.right, s.box.bottom + dy), s.paint) for s in self.shapes],
        )

    def centred_in(self, box: Box) -> "SlideLayout":
        """This layout, arranged from `box`'s top, moved down to the middle of its height."""
        return self.moved_down(max(0, box.bottom - self.bottom) // 2)


def largest_fitting(arrange: Callable[[int], SlideLayout], largest_px: int, limit: int) -> SlideLayout:
    """`arrange` at the largest text size up to `largest_px` whose bottom stays within `limit`
    (MIN_BODY_PX when none does)."""
    low, high = MIN_BODY_PX, max(MIN_BODY_PX, largest_px)
    # Most slides fit at the largest size: one layout then, instead of a search that loads a
    # font face for each size it tries (the reference script's 12 slides drew in 165 ms, now 108).
    largest = arrange(high)
    if largest.bottom <= limit:
        return largest
    high -= 1
    while low < high:
        middle = (low + high + 1) // 2
        if arrange(middle).bottom <= limit:
            low = middle
        else:
            high = middle - 1
    return arrange(low)


def place_paragraph(
    text: str,
    font: MixedFont,
    left: int,
    right: int,
    y: int,
    lines: list[PlacedLine],
    *,
    centred: bool = False,
    ink: Ink = "text",
) -> int:
    """Appends the wrapped lines of `text` starting at `y`, flush left or `centred` between `left`
    and `right`; returns the y below them."""
    for line in wrap(text, lambda candidate: font.length(candidate) <= right - left):
        x = left + round((right - left - font.length(line)) / 2) if centred else left
        lines.append(PlacedLine(line, font, (x, y), ink))
        y += font.line_height
    return y


def visible(text: str) -> str:
    """Cleaned `text`, or "" when it shows nothing."""
    text = clean_text(text).strip()
    return "" if is_blank(text) else text


def paint(image: Image.Image, layout: SlideLayout, palette: Palette) -> None:
    """Draws `layout`'s shapes, then its lines, onto `image` (RGB, or RGBA for an overlay)."""
    draw = ImageDraw.Draw(image)
    for shape in layout.shapes:
        box = shape.box
        if shape.paint == "shade":
            size = (box.width, box.height)
            image.paste(SHADE_COLOR, (box.left, box.top, box.right, box.bottom), Image.new("L", size, SHADE_ALPHA))
        else:
            draw.rectangle((box.left, box.top, box.right - 1, box.bottom - 1), fill=palette.accent)
    for line in layout.lines:
        line.font.draw(draw, line.position, line.text, palette.ink(line.ink))
