"""Emoji on slides: drawn in colour from the emoji font where the text font has only its box."""

import pytest
from PIL import Image, ImageChops, ImageDraw, features

from libs.contracts.script import Slide
from services.renderer.fonts import BOLD, FontBook
from services.renderer.palette import DARK_TEXT
from services.renderer.slide_text import MARGIN_X
from services.renderer.slides import draw_slide, layout_slide
from services.renderer.text import graphemes

SIZE = (640, 360)
WHITE = "#ffffff"
EMOJI = ["🔐", "👩‍💻", "🇰🇷", "👍🏽"]
"""A plain emoji, a ZWJ sequence, a flag (two regional indicators) and a skin tone."""
needs_raqm = pytest.mark.skipif(
    not features.check("raqm"), reason="one glyph per sequence needs Pillow's raqm layout (system FriBiDi)"
)


def coloured_pixels(image: Image.Image) -> int:
    """Pixels whose channels differ widely: the dark grey text colour blended with white never does."""
    red, green, blue = image.split()
    high = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    low = ImageChops.darker(ImageChops.darker(red, green), blue)
    return sum(ImageChops.subtract(high, low).histogram()[49:])


def ink_box(image: Image.Image, background: str = WHITE) -> tuple[int, int, int, int]:
    box = ImageChops.difference(image, Image.new("RGB", image.size, background)).getbbox()
    assert box is not None, "nothing was drawn"
    return box


def drawn_with_the_text_font_only(slide: Slide, fonts) -> Image.Image:
    """The slide's title as the text font draws it alone: its .notdef box for each emoji."""
    line = layout_slide(slide, SIZE, fonts).lines[0]
    image = Image.new("RGB", SIZE, WHITE)
    ImageDraw.Draw(image).text(line.position, line.text, font=fonts.get(line.font.size, BOLD), fill=DARK_TEXT)
    return image


def test_emoji_in_a_title_are_drawn_in_colour_where_the_text_font_draws_boxes(fonts):
    slide = Slide(title=" ".join(EMOJI), background=WHITE)
    boxes = drawn_with_the_text_font_only(slide, fonts)
    drawn = draw_slide(slide, SIZE, fonts)
    assert ink_box(boxes) and coloured_pixels(boxes) == 0
    assert coloured_pixels(drawn) > 400
    assert ImageChops.difference(boxes, drawn).getbbox() is not None


@pytest.mark.parametrize("emoji", EMOJI)
def test_each_kind_of_emoji_is_drawn_in_colour(fonts, emoji):
    drawn = draw_slide(Slide(title=emoji, background=WHITE), SIZE, fonts)
    left, top, right, bottom = ink_box(drawn)
    # The flag is the palest of them: white with a small red and blue circle, about a tenth coloured.
    assert coloured_pixels(drawn) > (right - left) * (bottom - top) / 20


@needs_raqm
@pytest.mark.parametrize(("sequence", "single"), [("👩‍💻", "👩"), ("👍🏽", "👍"), ("🇰🇷", "🔐")], ids=["zwj", "skin-tone", "flag"])
def test_an_emoji_sequence_is_one_glyph_as_wide_as_a_single_emoji(fonts, sequence, single):
    slide = Slide(title=sequence, background=WHITE)
    font = layout_slide(slide, SIZE, fonts).lines[0].font
    assert font.length(sequence) == font.length(single)
    drawn = draw_slide(slide, SIZE, fonts)
    # Drawn as its parts, the sequence's ink would span more than one emoji's advance.
    left, _, right, _ = ink_box(drawn)
    assert right - left <= font.length(single)
    alone = draw_slide(Slide(title=single, background=WHITE), SIZE, fonts)
    assert ImageChops.difference(drawn, alone).getbbox() is not None


def test_text_and_emoji_are_split_into_runs_by_font_coverage(fonts):
    runs = fonts.mixed(40).runs("보안 🔐👩‍💻 OK ☎ ☎️ 1️⃣")
    # ☎ is in the text font and stays there; U+FE0F asks for the emoji style.
    assert [(run.text, run.emoji) for run in runs] == [
        ("보안 ", False),
        ("🔐👩‍💻", True),
        (" OK ☎ ", False),
        ("☎️", True),
        (" ", False),
        ("1️⃣", True),
    ]
    assert [run.x for run in runs] == sorted(run.x for run in runs)


def test_a_long_emoji_title_wraps_inside_the_margins_without_splitting_a_sequence(fonts):
    title = "보안👩‍💻" * 30
    slide = Slide(title=title, bullets=["🇰🇷" * 40], background=WHITE)
    lines = [line.text for line in layout_slide(slide, SIZE, fonts).lines if line.text != "•"]
    assert len(lines) > 2
    assert "".join(lines) == title + "🇰🇷" * 40
    assert all(set(graphemes(line)) <= {"보", "안", "👩‍💻", "🇰🇷"} for line in lines)
    left, top, right, bottom = ink_box(draw_slide(slide, SIZE, fonts))
    width, height = SIZE
    assert round(width * MARGIN_X) - 1 <= left and right <= width - round(width * MARGIN_X) + 1
    assert top >= 0 and bottom <= height


def write_bitmap_font(path):
    """An 8 px BDF font with a box for "A": FreeType draws it, fontTools cannot read it."""
    path.write_text("""STARTFONT 2.1
FONT -slidereel-tiny-medium-r-normal--8-80-75-75-c-80-iso10646-1
SIZE 8 75 75
FONTBOUNDINGBOX 8 8 0 0
STARTPROPERTIES 2
FONT_ASCENT 8
FONT_DESCENT 0
ENDPROPERTIES
CHARS 1
STARTCHAR A
ENCODING 65
SWIDTH 1000 0
DWIDTH 8 0
BBX 8 8 0 0
BITMAP
FF
81
81
81
81
81
81
FF
ENDCHAR
ENDFONT
""")
    return path


def test_a_text_font_only_freetype_reads_is_drawn_alone(tmp_path):
    # Without the text font's coverage there is no telling which characters it lacks, so its
    # lines stay one run, as they were before emoji.
    font = FontBook(write_bitmap_font(tmp_path / "tiny.bdf")).mixed(8)
    assert [(run.text, run.emoji) for run in font.runs("A🔐A")] == [("A🔐A", False)]
    assert font.length("AA") == 16
