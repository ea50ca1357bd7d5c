"""Slide layouts (SPEC §8.3) in every format: all of the longest text a script may hold, inside
the margins and clear of the logo, and each layout's picture where it belongs."""

import pytest
from PIL import Image, ImageChops

from libs.contracts.script import (
    FORMAT_SIZES,
    MAX_ATTRIBUTION_CHARS,
    MAX_BULLET_CHARS,
    MAX_BULLETS,
    MAX_CAPTION_CHARS,
    MAX_QUOTE_CHARS,
    MAX_SUBTITLE_CHARS,
    MAX_TITLE_CHARS,
    Layout,
    Slide,
)
from libs.frames import frame_size
from services.renderer.bullet_list import BULLET
from services.renderer.logo import Logo
from services.renderer.slide_text import margin_box
from services.renderer.slides import draw_slide, layout_slide
from services.renderer.statements import ATTRIBUTION_DASH

MEDIA = "med-" + "0" * 32
RED = (255, 0, 0)


def longest(limit: int) -> str:
    return ("긴 글 Long text 개인정보 personal data " * 20)[:limit]


LONGEST: dict[Layout, Slide] = {
    "bullets": Slide(layout="bullets", title=longest(MAX_TITLE_CHARS), bullets=[longest(MAX_BULLET_CHARS)] * MAX_BULLETS),
    "title": Slide(layout="title", title=longest(MAX_TITLE_CHARS), subtitle=longest(MAX_SUBTITLE_CHARS)),
    "section": Slide(layout="section", title=longest(MAX_TITLE_CHARS)),
    "image": Slide(layout="image", image=MEDIA, title=longest(MAX_TITLE_CHARS), caption=longest(MAX_CAPTION_CHARS)),
    "image-left": Slide(
        layout="image-left", image=MEDIA, title=longest(MAX_TITLE_CHARS), bullets=[longest(MAX_BULLET_CHARS)] * MAX_BULLETS
    ),
    "image-right": Slide(
        layout="image-right", image=MEDIA, title=longest(MAX_TITLE_CHARS), bullets=[longest(MAX_BULLET_CHARS)] * MAX_BULLETS
    ),
    "quote": Slide(layout="quote", quote=longest(MAX_QUOTE_CHARS), attribution=longest(MAX_ATTRIBUTION_CHARS)),
}


def what_it_shows(slide: Slide) -> str:
    attribution = ATTRIBUTION_DASH + slide.attribution if slide.attribution else ""
    parts = [slide.title, slide.subtitle, *slide.bullets, slide.caption, slide.quote, attribution]
    return "".join(parts).replace(" ", "")


@pytest.mark.parametrize(
    ("format_name", "logo_position"),
    [("16:9", "top-left"), ("9:16", "bottom-right"), ("1:1", "top-right"), ("4:5", "bottom-left")],
)
@pytest.mark.parametrize("layout", list(LONGEST))
def test_the_longest_text_of_every_layout_stays_inside_the_margins_and_clear_of_the_logo(
    fonts, layout, format_name, logo_position
):
    width, height = size = frame_size(format_name, (640, 360))
    slide = LONGEST[layout]
    logo = Logo(Image.new("RGB", (200, 100), RED), logo_position).placed(size)
    drawn = layout_slide(slide, size, fonts, logo)
    margins = margin_box(size)
    for line in drawn.lines:
        left, top, right, bottom = line.bbox
        assert margins.left <= left and right <= margins.right, (line.text, line.bbox)
        if layout == "image":  # bands span the frame from its top and bottom edges
            assert top >= 0 and bottom <= height, (line.text, line.bbox)
        else:
            assert margins.top <= top and bottom <= margins.bottom, (line.text, line.bbox)
        box = logo.box
        assert right <= box.left or left >= box.right or bottom <= box.top or top >= box.bottom, (line.text, line.bbox, box)
    for shape in drawn.shapes:
        assert 0 <= shape.box.left < shape.box.right <= width and 0 <= shape.box.top < shape.box.bottom <= height
    shown = "".join(line.text for line in drawn.lines if line.text != BULLET).replace(" ", "")
    assert shown == what_it_shows(slide)


@pytest.mark.parametrize("format_name", list(FORMAT_SIZES))
def test_short_statements_are_centred_and_larger_than_bullets(fonts, format_name):
    size = frame_size(format_name, (640, 360))
    title = layout_slide(Slide(layout="title", title="제목", subtitle="부제목"), size, fonts)
    bullets = layout_slide(Slide(title="제목"), size, fonts)
    assert title.lines[0].font.size > bullets.lines[0].font.size
    left, top, right, _ = title.lines[0].bbox
    assert abs((left + right) / 2 - size[0] / 2) <= 2
    assert top < size[1] / 2 < title.bottom


@pytest.mark.parametrize(
    ("layout", "format_name", "picture_box"),
    [
        ("image-left", "16:9", (0, 0, 320, 360)),
        ("image-right", "16:9", (320, 0, 640, 360)),
        ("image-left", "9:16", (0, 0, 360, 320)),
        ("image-right", "9:16", (0, 320, 360, 640)),
        ("image-left", "1:1", (0, 0, 360, 180)),
        ("image-right", "4:5", (0, 225, 360, 450)),
    ],
)
def test_a_side_picture_fills_its_half_and_the_text_takes_the_other(tmp_path, fonts, layout, format_name, picture_box):
    path = tmp_path / "red.png"
    Image.new("RGB", (50, 50), RED).save(path)
    size = frame_size(format_name, (640, 360))
    slide = Slide(layout=layout, image=MEDIA, fit="cover", title="현장", bullets=["하나"])
    image = draw_slide(slide, size, fonts, {MEDIA: path})
    assert box_of(image, RED) == picture_box
    text = layout_slide(slide, size, fonts)
    for line in text.lines:
        left, top, _, _ = line.bbox
        inside = picture_box[0] <= left < picture_box[2] and picture_box[1] <= top < picture_box[3]
        assert not inside, (line.text, line.bbox)


def box_of(image: Image.Image, colour: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """The box of the pixels of `image` that are exactly `colour`."""
    differs = ImageChops.difference(image, Image.new("RGB", image.size, colour)).convert("L")
    return differs.point(lambda value: 255 if value == 0 else 0).getbbox()
