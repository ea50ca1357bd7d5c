import pytest
from PIL import Image, ImageChops, ImageDraw

from libs.contracts.script import FORMAT_SIZES, MAX_BULLET_CHARS, MAX_BULLETS, MAX_TITLE_CHARS, Slide
from libs.contracts.theme import DEFAULT_BACKGROUND
from libs.frames import frame_size
from services.renderer.fonts import BOLD, REGULAR
from services.renderer.slide_text import MARGIN_X, MARGIN_Y
from services.renderer.slides import draw_slide, layout_slide, save_thumbnail
from services.renderer.text import clean_text

SIZE = (640, 360)
LONG_KOREAN = "개인정보란 살아 있는 개인에 관한 정보로서 성명 주민등록번호 영상 등을 통하여 개인을 알아볼 수 있는 정보를 말합니다"


def assert_fits_inside(slide: Slide, size, fonts) -> None:
    layout = layout_slide(slide, size, fonts)
    width, height = size
    for line in layout.lines:
        left, top, right, bottom = line.bbox
        assert left >= 0 and right <= width - round(width * MARGIN_X) + 1, line.text
        assert top >= 0 and bottom <= height, line.text


def shown_text(slide: Slide, fonts) -> str:
    return "".join(line.text for line in layout_slide(slide, SIZE, fonts).lines).replace(" ", "").replace("•", "")


def test_long_korean_text_is_wrapped_and_shrunk_to_fit(fonts):
    slide = Slide(title=LONG_KOREAN, bullets=[LONG_KOREAN] * 12)
    assert_fits_inside(slide, SIZE, fonts)
    expected = (LONG_KOREAN * 13).replace(" ", "")
    assert shown_text(slide, fonts) == expected


def test_short_text_keeps_a_larger_size_than_long_text(fonts):
    short = layout_slide(Slide(title="제목", bullets=["하나"]), SIZE, fonts)
    long = layout_slide(Slide(title=LONG_KOREAN, bullets=[LONG_KOREAN] * 12), SIZE, fonts)
    assert short.lines[-1].font.size > long.lines[-1].font.size


def test_korean_lines_break_between_words(fonts):
    layout = layout_slide(Slide(bullets=[LONG_KOREAN]), SIZE, fonts)
    words = set(LONG_KOREAN.split())
    wrapped = [line.text for line in layout.lines if line.text != "•"]
    assert len(wrapped) > 1
    assert all(set(line.split()) <= words for line in wrapped)


def test_a_five_thousand_character_word_is_broken_and_kept_whole(fonts):
    word = "가" * 5_000
    slide = Slide(title="x" * 5_000, bullets=[word])
    assert_fits_inside(slide, SIZE, fonts)
    assert shown_text(slide, fonts) == "x" * 5_000 + word


def test_emoji_controls_and_rtl_text_are_drawn_without_crashing(fonts):
    hostile = "😀👨‍👩‍👧 zero\u200bwidth \x07bell\x00 שלום عربي \ud800"
    slide = Slide(title=hostile, bullets=[hostile, "\u200b", "  "])
    assert_fits_inside(slide, SIZE, fonts)
    assert shown_text(slide, fonts) == 2 * clean_text(hostile).replace(" ", "")


def test_glyphs_the_font_lacks_are_still_visible(fonts):
    empty = draw_slide(Slide(), SIZE, fonts)
    emoji_only = draw_slide(Slide(title="😀"), SIZE, fonts)
    assert ImageChops.difference(empty, emoji_only).getbbox() is not None


def test_background_colour_and_readable_text_colour(fonts):
    dark = draw_slide(Slide(title="가"), SIZE, fonts)
    light = draw_slide(Slide(title="가", background="#f5f5f0"), SIZE, fonts)
    assert dark.getpixel((1, 1)) == Image.new("RGB", (1, 1), DEFAULT_BACKGROUND).getpixel((0, 0))
    assert light.getpixel((1, 1)) == (245, 245, 240)
    # The darkest pixel is the text on a light slide; the lightest is the text on a dark one.
    assert light.convert("L").getextrema()[0] < 60
    assert dark.convert("L").getextrema()[1] > 200


@pytest.mark.parametrize(
    ("format_name", "expected"), [("16:9", (1280, 720)), ("9:16", (720, 1280)), ("1:1", (1280, 1280)), ("4:5", (1024, 1280))]
)
def test_the_thumbnail_is_a_jpeg_in_the_video_shape_1280_on_its_long_side(tmp_path, fonts, format_name, expected):
    path = tmp_path / "thumbnail.jpg"
    save_thumbnail(Slide(title="썸네일"), frame_size(format_name, (640, 360)), path, fonts)
    with Image.open(path) as image:
        assert (image.format, image.size) == ("JPEG", expected)


LONGEST_TITLE = ("긴 제목 Long title " * 20)[:MAX_TITLE_CHARS]
LONGEST_BULLET = ("개인정보란 살아 있는 개인에 관한 정보 personal data about a living person " * 6)[:MAX_BULLET_CHARS]
FORMATS = list(FORMAT_SIZES)


@pytest.mark.parametrize("format_name", FORMATS)
@pytest.mark.parametrize("resolution", [(1920, 1080), (640, 360)])
def test_the_longest_title_and_bullets_stay_inside_the_margins_in_every_format(fonts, format_name, resolution):
    width, height = size = frame_size(format_name, resolution)
    slide = Slide(title=LONGEST_TITLE, bullets=[LONGEST_BULLET] * MAX_BULLETS)
    layout = layout_slide(slide, size, fonts)
    margin_x, margin_y = round(width * MARGIN_X), round(height * MARGIN_Y)
    for line in layout.lines:
        left, top, right, bottom = line.bbox
        assert margin_x <= left and right <= width - margin_x, (line.text, line.bbox)
        assert margin_y <= top and bottom <= height - margin_y, (line.text, line.bbox)
    shown = "".join(line.text for line in layout.lines).replace(" ", "").replace("•", "")
    assert shown == (LONGEST_TITLE + LONGEST_BULLET * MAX_BULLETS).replace(" ", "")


@pytest.mark.parametrize("format_name", FORMATS)
def test_text_is_sized_by_the_short_side_so_a_tall_frame_keeps_16_9_sizes(fonts, format_name):
    slide = Slide(title="제목", bullets=["하나", "둘"])
    wide = layout_slide(slide, FORMAT_SIZES["16:9"], fonts)
    other = layout_slide(slide, FORMAT_SIZES[format_name], fonts)
    assert [line.font.size for line in other.lines] == [line.font.size for line in wide.lines]


def test_bold_weight_draws_heavier_strokes_than_regular(fonts):
    def ink(weight: int) -> int:
        image = Image.new("L", (200, 100))
        ImageDraw.Draw(image).text((10, 10), "가나다", font=fonts.get(40, weight), fill=255)
        return sum(image.histogram()[128:])

    assert ink(BOLD) > 1.3 * ink(REGULAR)
