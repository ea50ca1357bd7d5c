"""Slide pictures with Pillow: a bold title and bullets, wrapped and shrunk until all of it fits;
or the video's own picture fitted to the frame, with its title and caption on dark bands over it."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from PIL import Image, ImageDraw

from libs.contracts.script import Slide, is_blank
from services.renderer.fonts import BOLD, REGULAR, FontBook
from services.renderer.mixed_font import MixedFont
from services.renderer.motion import ZoomLayers, zoomed_size
from services.renderer.pictures import PictureUnreadable, fitted_picture
from services.renderer.text import clean_text, wrap

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
BAND_TITLE_SIZE, CAPTION_SIZE = 0.06, 0.042
"""Title and caption text sizes on a picture slide, as fractions of the height, before shrinking to fit."""
BAND_MAX_TEXT = 0.25
"""A band's text may cover at most this fraction of the height; longer text gets smaller."""
BAND_PADDING = 0.025
"""Band space above and below its text, as a fraction of the height."""
BAND_COLOR, BAND_ALPHA = (0, 0, 0), 150
"""Dark enough for white text over any picture, light enough to leave the picture visible."""

Pictures = Mapping[str, Path]
"""The local file of each media id the slides show (AssetStore.fetch)."""
NO_PICTURES: Pictures = MappingProxyType({})


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


def draw_slide(slide: Slide, size: tuple[int, int], fonts: FontBook, pictures: Pictures = NO_PICTURES) -> Image.Image:
    """The slide at `size`; an image slide's picture is read from `pictures`."""
    background = slide.background or DEFAULT_BACKGROUND
    if slide.image is not None:
        return _draw_picture_slide(slide, pictures[slide.image], size, fonts, background)
    image = Image.new("RGB", size, background)
    color = DARK_TEXT if _is_light(background) else LIGHT_TEXT
    _draw_lines(ImageDraw.Draw(image), layout_slide(slide, size, fonts).lines, color)
    return image


def zooms_in(slide: Slide) -> bool:
    """Whether the slide's picture moves (motion.py) rather than standing still."""
    return slide.image is not None and slide.motion == "zoom-in"


def save_thumbnail(slide: Slide, path: Path, fonts: FontBook, pictures: Pictures = NO_PICTURES) -> None:
    # Drawn at thumbnail size rather than scaled down, so text is laid out for it.
    draw_slide(slide, THUMBNAIL_SIZE, fonts, pictures).save(path, format="JPEG", quality=85)


def layout_slide(slide: Slide, size: tuple[int, int], fonts: FontBook) -> SlideLayout:
    """The largest text size at which the title and bullets fit inside the margins."""
    title = _visible(slide.title)
    bullets = [text for text in map(_visible, slide.bullets) if text]
    height = size[1]
    return _largest_fitting(
        lambda body_px: _arrange(title, bullets, size, body_px, fonts),
        round(height * BODY_SIZE),
        height - round(height * MARGIN_Y),
    )


def layout_band(text: str, weight: int, text_size: float, size: tuple[int, int], fonts: FontBook) -> SlideLayout:
    """`text` wrapped inside the side margins from y = 0, at the largest size up to
    `text_size` × height whose lines stay within BAND_MAX_TEXT × height."""
    width, height = size
    left = round(width * MARGIN_X)

    def arrange(px: int) -> SlideLayout:
        lines: list[PlacedLine] = []
        bottom = _place_paragraph(text, fonts.mixed(px, weight), left, width - left, 0, lines)
        return SlideLayout(lines=lines, bottom=bottom)

    return _largest_fitting(arrange, round(height * text_size), round(height * BAND_MAX_TEXT))


def _draw_picture_slide(slide: Slide, picture: Path, size: tuple[int, int], fonts: FontBook, background: str) -> Image.Image:
    image = _fitted(slide, picture, size, background)
    _draw_bands(image, slide, fonts)
    return image


def _fitted(slide: Slide, picture: Path, size: tuple[int, int], background: str) -> Image.Image:
    try:
        return fitted_picture(picture, size, slide.fit, background)
    except PictureUnreadable as error:
        raise PictureUnreadable(f"picture {slide.image}: {error}") from error


def _draw_bands(image: Image.Image, slide: Slide, fonts: FontBook) -> bool:
    """Draws the picture slide's title and caption bands on `image`; whether it has any."""
    if title := _visible(slide.title):
        _draw_band(image, layout_band(title, BOLD, BAND_TITLE_SIZE, image.size, fonts), at_top=True)
    if caption := _visible(slide.caption):
        _draw_band(image, layout_band(caption, REGULAR, CAPTION_SIZE, image.size, fonts), at_top=False)
    return bool(title or caption)


def draw_zoom_layers(
    slide: Slide, picture: Path, size: tuple[int, int], fonts: FontBook, folder: Path, number: int
) -> ZoomLayers:
    """The layers a zooming picture slide is drawn from, frame by frame (motion.py): the picture
    fitted larger, and the bands alone on transparency, so they hold still while it moves."""
    overlay = folder / f"slide-{number:04d}-bands.png"
    layers = ZoomLayers(picture=folder / f"slide-{number:04d}-zoom.ppm", overlay=overlay)
    _fitted(slide, picture, zoomed_size(size), slide.background or DEFAULT_BACKGROUND).save(layers.picture)
    bands = Image.new("RGBA", size, (0, 0, 0, 0))
    if not _draw_bands(bands, slide, fonts):
        return ZoomLayers(picture=layers.picture, overlay=None)
    bands.save(overlay, compress_level=1)
    return layers


def _draw_band(image: Image.Image, layout: SlideLayout, *, at_top: bool) -> None:
    """Darkens a full-width band at the top or bottom of `image` and writes `layout` on it."""
    width, height = image.size
    padding = round(height * BAND_PADDING)
    band_height = min(height, layout.bottom + 2 * padding)
    top = 0 if at_top else height - band_height
    image.paste(BAND_COLOR, (0, top, width, top + band_height), Image.new("L", (width, band_height), BAND_ALPHA))
    _draw_lines(ImageDraw.Draw(image), layout.lines, LIGHT_TEXT, dy=top + padding)


def _draw_lines(draw: ImageDraw.ImageDraw, lines: list[PlacedLine], color: str, dy: int = 0) -> None:
    for line in lines:
        x, y = line.position
        line.font.draw(draw, (x, y + dy), line.text, color)


def _largest_fitting(arrange: Callable[[int], SlideLayout], largest_px: int, limit: int) -> SlideLayout:
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


def _place_paragraph(text: str, font: MixedFont, left: int, right: int, y: int, lines: list[PlacedLine]) -> int:
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
