"""Slide pictures with Pillow, one per scene, in the slide's layout (SPEC §8.3) and its theme's
colours and logo: a title and bullets (bullet_list.py); a title, section or quote slide
(statements.py); the video's own picture fitted to the frame, its title and caption on dark bands
over it ("image"), or beside a title and bullets (side_picture.py). Text is wrapped and shrunk
until all of it fits, inside the margins, clear of the logo."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from PIL import Image

from libs.contracts.script import Slide
from libs.contracts.theme import Theme
from services.renderer.bullet_list import layout_bullet_list
from services.renderer.fonts import BOLD, REGULAR, FontBook
from services.renderer.logo import Logo, PlacedLogo
from services.renderer.motion import ZoomLayers, zoomed_size
from services.renderer.palette import Palette, slide_palette
from services.renderer.pictures import PictureUnreadable, fitted_picture
from services.renderer.side_picture import side_boxes
from services.renderer.slide_text import (
    MARGIN_X,
    Box,
    PlacedLine,
    Shape,
    SlideLayout,
    largest_fitting,
    margin_box,
    paint,
    place_paragraph,
    visible,
)
from services.renderer.statements import layout_quote, layout_section, layout_title_slide

THUMBNAIL_LONG_SIDE = 1280
"""A thumbnail has the video's shape, this long (1280×720 for 16:9, 720×1280 for 9:16)."""
BAND_TITLE_SIZE, CAPTION_SIZE = 0.06, 0.042
"""Title and caption text sizes on a picture slide, as fractions of the short side, before shrinking to fit."""
BAND_MAX_TEXT = 0.25
"""A band's text may cover at most this fraction of the height; longer text gets smaller."""
BAND_PADDING = 0.025
"""Band space above and below its text, as a fraction of the short side."""

Pictures = Mapping[str, Path]
"""The local file of each media id the slides show (AssetStore.fetch)."""
NO_PICTURES: Pictures = MappingProxyType({})


@dataclass(frozen=True)
class Look:
    """What a job's slides are drawn in besides their fonts: its theme's colours and its logo."""

    theme: Theme | None = None
    """None: no theme, the look slides had before themes."""
    logo: Logo | None = None


PLAIN = Look()


def draw_slide(
    slide: Slide, size: tuple[int, int], fonts: FontBook, pictures: Pictures = NO_PICTURES, look: Look = PLAIN
) -> Image.Image:
    """The slide at `size`; a picture layout's picture is read from `pictures`."""
    palette = slide_palette(slide, look.theme)
    logo = None if look.logo is None else look.logo.placed(size)
    image = _backdrop(slide, size, palette.background, pictures)
    _dress(image, layout_slide(slide, size, fonts, logo), palette, logo)
    return image


def zooms_in(slide: Slide) -> bool:
    """Whether the slide's picture moves (motion.py) rather than standing still."""
    return slide.image is not None and slide.motion == "zoom-in"


def save_thumbnail(
    slide: Slide, frame: tuple[int, int], path: Path, fonts: FontBook, pictures: Pictures = NO_PICTURES, look: Look = PLAIN
) -> None:
    """The slide as a JPEG in the shape of the video's `frame`."""
    # Drawn at thumbnail size rather than scaled down, so text is laid out for it.
    draw_slide(slide, thumbnail_size(frame), fonts, pictures, look).save(path, format="JPEG", quality=85)


def thumbnail_size(frame: tuple[int, int]) -> tuple[int, int]:
    width, height = frame
    scale = THUMBNAIL_LONG_SIDE / max(width, height)
    return round(width * scale), round(height * scale)


def layout_slide(slide: Slide, size: tuple[int, int], fonts: FontBook, logo: PlacedLogo | None = None) -> SlideLayout:
    """Where the slide's text, and the shapes under it, go at `size`: inside the margins and clear
    of `logo` (but for an image slide's bands, which span the frame over its picture)."""
    text_box = margin_box(size) if logo is None else logo.clear_of(margin_box(size))
    match slide.shown_layout:
        case "bullets":
            return layout_bullet_list(slide.title, slide.bullets, text_box, size, fonts)
        case "title":
            return layout_title_slide(slide, text_box, size, fonts)
        case "section":
            return layout_section(slide, text_box, size, fonts)
        case "quote":
            return layout_quote(slide, text_box, size, fonts)
        case "image":
            return _layout_bands(slide, size, fonts, logo)
        case "image-left" | "image-right":
            _, side_box = side_boxes(slide.shown_layout, size)
            box = side_box if logo is None else logo.clear_of(side_box)
            return layout_bullet_list(slide.title, slide.bullets, box, size, fonts).centred_in(box)


def layout_band(
    text: str, weight: int, text_size: float, size: tuple[int, int], fonts: FontBook, span: tuple[int, int] | None = None
) -> SlideLayout:
    """`text` wrapped inside the side margins (or `span`, left to right) from y = 0, at the largest
    size up to `text_size` × the short side whose lines stay within BAND_MAX_TEXT × height."""
    width, height = size
    left, right = span or (round(width * MARGIN_X), width - round(width * MARGIN_X))

    def arrange(px: int) -> SlideLayout:
        lines: list[PlacedLine] = []
        bottom = place_paragraph(text, fonts.mixed(px, weight), left, right, 0, lines, ink="on-shade")
        return SlideLayout(lines=lines, bottom=bottom)

    return largest_fitting(arrange, round(min(size) * text_size), round(height * BAND_MAX_TEXT))


def _backdrop(slide: Slide, size: tuple[int, int], background: str, pictures: Pictures) -> Image.Image:
    """The slide before its text: its background, and its picture where its layout shows one."""
    if slide.image is None:  # a text layout: the contract gives every picture layout its image
        return Image.new("RGB", size, background)
    picture = pictures[slide.image]
    if slide.shown_layout == "image":
        return _fitted(slide, picture, size, background)
    image = Image.new("RGB", size, background)
    box, _ = side_boxes(slide.shown_layout, size)
    image.paste(_fitted(slide, picture, (box.width, box.height), background), (box.left, box.top))
    return image


def _fitted(slide: Slide, picture: Path, size: tuple[int, int], background: str) -> Image.Image:
    try:
        return fitted_picture(picture, size, slide.fit, background)
    except PictureUnreadable as error:
        raise PictureUnreadable(f"picture {slide.image}: {error}") from error


def _dress(image: Image.Image, text: SlideLayout, palette: Palette, logo: PlacedLogo | None) -> None:
    paint(image, text, palette)
    if logo is not None:
        logo.stamp(image)


def _layout_bands(slide: Slide, size: tuple[int, int], fonts: FontBook, logo: PlacedLogo | None) -> SlideLayout:
    """The picture slide's title band at the top and caption band at the bottom, each text clear
    of a logo on its side."""
    width, height = size
    lines: list[PlacedLine] = []
    shapes: list[Shape] = []
    for text, weight, text_size, at_top in (
        (visible(slide.title), BOLD, BAND_TITLE_SIZE, True),
        (visible(slide.caption), REGULAR, CAPTION_SIZE, False),
    ):
        if not text:
            continue
        span = _beside(logo, width) if logo is not None and (logo.box.top < height / 2) == at_top else None
        band = layout_band(text, weight, text_size, size, fonts, span)
        padding = round(min(width, height) * BAND_PADDING)
        band_height = min(height, band.bottom + 2 * padding)
        top = 0 if at_top else height - band_height
        lines += band.moved_down(top + padding).lines
        shapes.append(Shape(Box(0, top, width, top + band_height), "shade"))
    return SlideLayout(lines=lines, bottom=height, shapes=shapes)


def _beside(logo: PlacedLogo, width: int) -> tuple[int, int]:
    """The side margins less the logo's width and gap on its side."""
    margin = round(width * MARGIN_X)
    if logo.box.left <= margin:
        return logo.box.right + logo.gap, width - margin
    return margin, logo.box.left - logo.gap


def draw_zoom_layers(
    slide: Slide, picture: Path, size: tuple[int, int], fonts: FontBook, folder: Path, number: int, look: Look = PLAIN
) -> ZoomLayers:
    """The layers a zooming picture slide is drawn from, frame by frame (motion.py): the picture
    fitted larger, and the bands and logo alone on transparency, so they hold still while it moves."""
    overlay = folder / f"slide-{number:04d}-bands.png"
    layers = ZoomLayers(picture=folder / f"slide-{number:04d}-zoom.ppm", overlay=overlay)
    palette = slide_palette(slide, look.theme)
    _fitted(slide, picture, zoomed_size(size), palette.background).save(layers.picture)
    logo = None if look.logo is None else look.logo.placed(size)
    bands = _layout_bands(slide, size, fonts, logo)
    if not bands.lines and logo is None:
        return ZoomLayers(picture=layers.picture, overlay=None)
    still = Image.new("RGBA", size, (0, 0, 0, 0))
    _dress(still, bands, palette, logo)
    still.save(overlay, compress_level=1)
    return layers
