"""Themes on slides (SPEC §8.3): the theme's colours where each belongs, its logo in its corner
of every slide, and its font drawing the text, the bundled font what the theme's font lacks."""

from collections import Counter

import pytest
from PIL import Image, ImageChops

from libs.contracts.script import Slide
from libs.contracts.theme import Theme
from services.renderer.fonts import FontBook
from services.renderer.logo import LOGO_HEIGHT, Logo
from services.renderer.palette import DARK_TEXT
from services.renderer.slide_text import margin_box
from services.renderer.slides import Look, draw_slide, draw_zoom_layers, layout_slide, save_thumbnail

from .conftest import write_box_font

SIZE = (640, 360)
MEDIA = "med-" + "0" * 32
THEME = Theme(background="#102030", text="#e0f0c0", accent="#ff8000")
MAGENTA = (255, 0, 255)


def rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def box_of(image: Image.Image, colour: tuple[int, int, int]) -> tuple[int, int, int, int] | None:
    """The box of the pixels of `image` that are exactly `colour`."""
    differs = ImageChops.difference(image.convert("RGB"), Image.new("RGB", image.size, colour)).convert("L")
    return differs.point(lambda value: 255 if value == 0 else 0).getbbox()


def commonest_colours(image: Image.Image, count: int) -> list[tuple[int, int, int]]:
    return [colour for colour, _ in Counter(image.getdata()).most_common(count)]


def magenta_logo(position: str = "top-right") -> Logo:
    return Logo(Image.new("RGB", (300, 150), MAGENTA), position)


def test_a_theme_paints_the_background_and_the_text():
    image = draw_slide(Slide(title="테마 제목", bullets=["항목"]), SIZE, FontBook(), look=Look(theme=THEME))
    assert image.getpixel((1, 1)) == rgb(THEME.background)
    assert rgb(THEME.text) in commonest_colours(image, 3)


def test_a_slides_own_background_wins_and_unreadable_theme_text_gives_way():
    slide = Slide(title="밝은 슬라이드", background="#fafafa")
    image = draw_slide(slide, SIZE, FontBook(), look=Look(theme=THEME))
    assert image.getpixel((1, 1)) == (250, 250, 250)
    assert rgb(DARK_TEXT) in commonest_colours(image, 3) and rgb(THEME.text) not in commonest_colours(image, 3)


@pytest.mark.parametrize(
    ("slide", "point"),
    [
        (Slide(layout="section", title="2부"), lambda layout: (2, (layout.shapes[0].box.top + layout.shapes[0].box.bottom) // 2)),
        (
            Slide(layout="quote", quote="인용", attribution="누구"),
            lambda layout: (layout.shapes[0].box.left, layout.shapes[0].box.top + 1),
        ),
        (Slide(layout="title", title="제목", subtitle="부제"), lambda layout: (320, layout.shapes[0].box.top)),
    ],
)
def test_the_accent_colours_the_section_band_the_quote_bar_and_the_title_rule(fonts, slide, point):
    image = draw_slide(slide, SIZE, fonts, look=Look(theme=THEME))
    assert image.getpixel(point(layout_slide(slide, SIZE, fonts))) == rgb(THEME.accent)


def test_a_theme_colours_the_bullet_marks_with_its_accent_while_no_theme_keeps_them_in_the_text_colour(fonts):
    slide = Slide(bullets=["■"])
    mark = next(line for line in layout_slide(slide, SIZE, fonts).lines if line.text == "•")
    left, top, right, bottom = (round(value) for value in mark.bbox)
    themed = draw_slide(slide, SIZE, fonts, look=Look(theme=THEME)).crop((left, top, right, bottom))
    plain = draw_slide(slide, SIZE, fonts).crop((left, top, right, bottom))
    assert rgb(THEME.accent) in commonest_colours(themed, 2)
    assert (255, 255, 255) in commonest_colours(plain, 2)


@pytest.mark.parametrize(
    ("position", "corner"), [("top-left", (0, 0)), ("top-right", (1, 0)), ("bottom-left", (0, 1)), ("bottom-right", (1, 1))]
)
@pytest.mark.parametrize("size", [(640, 360), (360, 640)])
def test_the_logo_stands_in_its_corner_inside_the_margins_and_nowhere_else(fonts, position, corner, size):
    image = draw_slide(Slide(title="로고"), size, fonts, look=Look(theme=THEME, logo=magenta_logo(position)))
    left, top, right, bottom = box_of(image, MAGENTA)
    margins = margin_box(size)
    height = round(min(size) * LOGO_HEIGHT)
    assert (right - left, bottom - top) == (2 * height, height)
    assert (left, top) == (
        margins.left if corner[0] == 0 else margins.right - 2 * height,
        margins.top if corner[1] == 0 else margins.bottom - height,
    )
    assert box_of(image.crop((left, top, right, bottom)), MAGENTA) == (0, 0, right - left, bottom - top), "solid"


def test_a_transparent_logo_shows_the_slide_through_it(fonts):
    picture = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    picture.paste((255, 0, 255, 255), (0, 0, 100, 200))
    image = draw_slide(Slide(), SIZE, fonts, look=Look(theme=THEME, logo=Logo(picture, "top-left")))
    _, top, right, bottom = box_of(image, MAGENTA)
    assert image.getpixel((right + 5, (top + bottom) // 2)) == rgb(THEME.background)


def test_the_logo_is_on_picture_slides_their_zooming_overlay_and_the_thumbnail(tmp_path, fonts):
    picture = tmp_path / "picture.png"
    Image.new("RGB", (400, 300), (0, 128, 0)).save(picture)
    look = Look(theme=THEME, logo=magenta_logo())
    for slide in (Slide(image=MEDIA, title="사진"), Slide(layout="image-left", image=MEDIA, title="옆")):
        assert box_of(draw_slide(slide, SIZE, fonts, {MEDIA: picture}, look), MAGENTA) is not None
    zooming = Slide(image=MEDIA, motion="zoom-in")
    layers = draw_zoom_layers(zooming, picture, SIZE, fonts, tmp_path, 1, look)
    assert layers.overlay is not None
    with Image.open(layers.picture) as moving:
        assert box_of(moving, MAGENTA) is None, "the logo holds still over the moving picture"
    with Image.open(layers.overlay) as still:
        assert box_of(still.convert("RGB"), MAGENTA) is not None
    save_thumbnail(Slide(title="썸네일"), SIZE, tmp_path / "thumbnail.jpg", fonts, look=look)
    with Image.open(tmp_path / "thumbnail.jpg") as thumbnail:
        red, green, blue = thumbnail.getpixel((thumbnail.width - 100, 90))
        assert red > 200 and green < 60 and blue > 200


def test_text_is_drawn_in_a_font_from_a_path(tmp_path):
    fonts = FontBook(write_box_font(tmp_path / "box.ttf"))
    slide = Slide(layout="title", title="A")
    image = draw_slide(slide, SIZE, fonts, look=Look(theme=THEME))
    left, top, right, bottom = box_of(image, rgb(THEME.text))
    assert abs((right - left) - (bottom - top)) <= 2, "a square"
    assert box_of(image.crop((left, top, right, bottom)), rgb(THEME.background)) is None, "filled"
    assert (right - left) > 20


def test_what_a_font_lacks_is_drawn_by_the_bundled_font_glyph_by_glyph(tmp_path):
    fonts = FontBook(write_box_font(tmp_path / "box.ttf"))
    runs = fonts.mixed(40).runs("AA 한글 A😀")
    assert [run.text for run in runs] == ["AA ", "한글", " A", "😀"]
    assert [run.font.path for run in runs[:3]] == [str(tmp_path / "box.ttf"), FontBook().get(40).path, str(tmp_path / "box.ttf")]
    assert runs[3].emoji
    hangul = draw_slide(Slide(title="한글"), SIZE, fonts)
    assert box_of(hangul, (255, 255, 255)) is not None, "Hangul is drawn, not left as empty boxes"
