"""Image slides: the video's own picture fitted to the frame, with a title and caption on bands."""

from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, JpegImagePlugin

from libs.contracts.script import Slide
from libs.contracts.theme import DEFAULT_BACKGROUND
from libs.frames import frame_size
from services.renderer.fonts import BOLD
from services.renderer.motion import zoom_frame
from services.renderer.pictures import PictureUnreadable, fitted_picture
from services.renderer.slide_text import MARGIN_X
from services.renderer.slides import (
    BAND_MAX_TEXT,
    BAND_TITLE_SIZE,
    draw_slide,
    draw_zoom_layers,
    layout_band,
    save_thumbnail,
)

FRAME = (1920, 1080)
MEDIA = "med-" + "0" * 32
BACKGROUND = "#20304a"
RED, GREEN, BLUE, MAGENTA = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 0, 255)


def save(image: Image.Image, path: Path, format: str) -> Path:
    image.save(path, format=format, **({"quality": 95} if format == "JPEG" else {}))
    return path


def not_background(image: Image.Image, background: str = BACKGROUND) -> tuple[int, int, int, int] | None:
    """The box of the pixels that differ from the background colour."""
    return ImageChops.difference(image, Image.new("RGB", image.size, background)).getbbox()


def close_to(pixel, color, tolerance: int = 6) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, color))


@pytest.mark.parametrize("format", ["PNG", "JPEG"])
def test_contain_letterboxes_a_wide_picture_between_background_bands(tmp_path, fonts, format):
    # 4:1 on 16:9: 1920×480 in the middle, 300 rows of background above and below.
    path = save(Image.new("RGB", (4000, 1000), RED), tmp_path / "image", format)
    slide = draw_slide(Slide(image=MEDIA, background=BACKGROUND), FRAME, fonts, {MEDIA: path})
    assert slide.size == FRAME and slide.mode == "RGB"
    assert not_background(slide) == (0, 300, 1920, 780)
    assert close_to(slide.getpixel((960, 540)), RED) and close_to(slide.getpixel((5, 302)), RED)
    assert close_to(slide.getpixel((1915, 777)), RED)


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(tmp_path, fonts, monkeypatch):
    drafts = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        result = original(self, mode, size)
        drafts.append((size, self.size))
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    path = save(Image.new("RGB", (4000, 3000), RED), tmp_path / "image", "JPEG")
    slide = draw_slide(Slide(image=MEDIA), FRAME, fonts, {MEDIA: path})
    # 4000×3000 fits 1920×1080 at 1440×1080: decoded at half size (2000×1500), never below the box.
    assert drafts == [((1440, 1080), (2000, 1500))]
    assert not_background(slide, DEFAULT_BACKGROUND) == (240, 0, 1680, 1080)


def test_contain_scales_a_small_picture_up(tmp_path, fonts):
    path = save(Image.new("RGB", (40, 30), RED), tmp_path / "image", "PNG")
    slide = draw_slide(Slide(image=MEDIA, background=BACKGROUND), FRAME, fonts, {MEDIA: path})
    assert not_background(slide) == (240, 0, 1680, 1080)


def test_cover_fills_the_frame_with_the_centre_of_a_tall_picture(tmp_path, fonts):
    # Red, green and blue thirds: the 16:9 window through the middle of a 1:3 picture sees only green.
    picture = Image.new("RGB", (300, 900), RED)
    picture.paste(GREEN, (0, 300, 300, 600))
    picture.paste(BLUE, (0, 600, 300, 900))
    path = save(picture, tmp_path / "image", "PNG")
    slide = draw_slide(Slide(image=MEDIA, fit="cover", background=BACKGROUND), FRAME, fonts, {MEDIA: path})
    assert slide.size == FRAME
    assert [color for _, color in slide.getcolors()] == [GREEN]


def test_cover_of_a_wide_picture_crops_its_sides_evenly(tmp_path, fonts):
    picture = Image.new("RGB", (3000, 1000), RED)
    picture.paste(BLUE, (1500, 0, 3000, 1000))
    path = save(picture, tmp_path / "image", "PNG")
    slide = draw_slide(Slide(image=MEDIA, fit="cover"), FRAME, fonts, {MEDIA: path})
    assert not_background(slide, DEFAULT_BACKGROUND) == (0, 0, 1920, 1080)
    assert close_to(slide.getpixel((955, 540)), RED) and close_to(slide.getpixel((965, 540)), BLUE)
    assert close_to(slide.getpixel((0, 0)), RED) and close_to(slide.getpixel((1919, 1079)), BLUE)


@pytest.mark.parametrize("fit", ["contain", "cover"])
def test_transparent_pixels_show_the_background_never_the_colour_under_them(tmp_path, fonts, fit):
    # Alpha 0 everywhere but a green square; the invisible pixels hold magenta.
    picture = Image.new("RGBA", (400, 300), (*MAGENTA, 0))
    picture.paste((*GREEN, 255), (150, 100, 250, 200))
    path = save(picture, tmp_path / "image", "PNG")
    slide = draw_slide(Slide(image=MEDIA, fit=fit, background=BACKGROUND), FRAME, fonts, {MEDIA: path})
    assert close_to(slide.getpixel((960, 540)), GREEN, 0)
    # (300, 540) and (1620, 540) lie inside the picture's area whichever the fit, in its transparent part.
    for point in ((20, 20), (300, 540), (1620, 540), (1900, 1060)):
        assert slide.getpixel(point) == (0x20, 0x30, 0x4A), point
    # Every pixel is the background, green, or a blend of the two at the square's edge.
    (_, red_max), _, (_, blue_max) = slide.getextrema()
    assert red_max <= 0x20 and blue_max <= 0x4A, "magenta from under the transparent pixels shows"


def test_a_translucent_picture_is_blended_over_the_background(tmp_path, fonts):
    path = save(Image.new("RGBA", (160, 90), (255, 255, 255, 128)), tmp_path / "image", "PNG")
    slide = draw_slide(Slide(image=MEDIA, background="#000000"), FRAME, fonts, {MEDIA: path})
    assert close_to(slide.getpixel((960, 540)), (128, 128, 128), 2)


# A 4:3 picture in each format at RENDER_RESOLUTION=640x360: where `contain` puts it.
CONTAINED_4_3 = {
    "16:9": (80, 0, 560, 360),
    "9:16": (0, 185, 360, 455),
    "1:1": (0, 45, 360, 315),
    "4:5": (0, 90, 360, 360),
}


@pytest.mark.parametrize(("format_name", "box"), CONTAINED_4_3.items())
def test_contain_letterboxes_in_every_format(tmp_path, fonts, format_name, box):
    path = save(Image.new("RGB", (1600, 1200), RED), tmp_path / "image", "PNG")
    size = frame_size(format_name, (640, 360))
    slide = draw_slide(Slide(image=MEDIA, background=BACKGROUND), size, fonts, {MEDIA: path})
    assert slide.size == size and not_background(slide) == box


@pytest.mark.parametrize("format_name", CONTAINED_4_3)
def test_cover_fills_every_format_cropping_evenly(tmp_path, fonts, format_name):
    picture = Image.new("RGB", (1600, 1200), RED)
    picture.paste(BLUE, (800, 0, 1600, 1200))
    path = save(picture, tmp_path / "image", "PNG")
    width, height = size = frame_size(format_name, (640, 360))
    slide = draw_slide(Slide(image=MEDIA, fit="cover", background=BACKGROUND), size, fonts, {MEDIA: path})
    assert not_background(slide) == (0, 0, width, height)
    middle = width // 2
    assert close_to(slide.getpixel((middle - 3, height // 2)), RED) and close_to(slide.getpixel((middle + 3, height // 2)), BLUE)
    assert close_to(slide.getpixel((0, 0)), RED) and close_to(slide.getpixel((width - 1, height - 1)), BLUE)


SIDE_BEARING_PX = 2


@pytest.mark.parametrize("format_name", CONTAINED_4_3)
def test_a_long_band_title_stays_inside_the_side_margins_and_its_share_of_the_height(fonts, format_name):
    width, height = size = frame_size(format_name, (1920, 1080))
    layout = layout_band("사진 위의 아주 긴 제목 A very long title " * 6, BOLD, BAND_TITLE_SIZE, size, fonts)
    # A glyph's ink may start a pixel left of its pen position (a negative side bearing: Pillow 13
    # draws bold "A" so at this size), as type is set: the line starts at the margin, its ink near it.
    margin = round(width * MARGIN_X) - SIDE_BEARING_PX
    assert layout.bottom <= height * BAND_MAX_TEXT
    for line in layout.lines:
        left, top, right, bottom = line.bbox
        assert margin <= left and right <= width - margin and top >= 0 and bottom <= layout.bottom, line.text


@pytest.mark.parametrize("format_name", CONTAINED_4_3)
def test_a_zooming_picture_is_drawn_at_the_format_frame_with_its_bands_still(tmp_path, fonts, format_name):
    path = save(Image.new("RGB", (1600, 1200), RED), tmp_path / "image", "PNG")
    size = frame_size(format_name, (640, 360))
    slide = Slide(image=MEDIA, fit="cover", motion="zoom-in", title="제목")
    layers = draw_zoom_layers(slide, path, size, fonts, tmp_path, 1)
    assert layers.overlay is not None
    with Image.open(layers.picture) as picture, Image.open(layers.overlay) as overlay:
        first, last = (zoom_frame(picture, overlay, size, progress) for progress in (0.0, 1.0))
    still = draw_slide(slide, size, fonts, {MEDIA: path})
    assert first.size == last.size == size
    # At its start the zoom shows the slide as it would stand still, title band included.
    assert ImageChops.difference(first, still).convert("L").getextrema()[1] < 40


def red_slide(tmp_path, fonts, **text) -> Image.Image:
    path = tmp_path / "image"
    if not path.exists():
        save(Image.new("RGB", (1600, 900), RED), path, "PNG")
    return draw_slide(Slide(image=MEDIA, fit="cover", **text), FRAME, fonts, {MEDIA: path})


def test_title_and_caption_are_written_on_dark_bands_at_the_top_and_bottom(tmp_path, fonts):
    plain = red_slide(tmp_path, fonts)
    titled = ImageChops.difference(plain, red_slide(tmp_path, fonts, title="발표 제목")).getbbox()
    captioned = ImageChops.difference(plain, red_slide(tmp_path, fonts, caption="사진 설명 😀")).getbbox()
    both = red_slide(tmp_path, fonts, title="발표 제목", caption="사진 설명 😀")

    width, height = FRAME
    assert titled[:3] == (0, 0, width) and titled[3] < height // 4, "title band: full width, at the top"
    assert captioned[1] > 3 * height // 4 and captioned[2:] == (width, height), "caption band: at the bottom"
    middle = (0, titled[3], width, captioned[1])
    assert ImageChops.difference(plain.crop(middle), both.crop(middle)).getbbox() is None
    assert ImageChops.difference(plain, both).getbbox() == (0, 0, width, height)
    # The bands darken the picture without hiding it; the text on them is white.
    for corner in ((2, 2), (2, height - 3)):
        red, green, blue = both.getpixel(corner)
        assert 60 < red < 160 and green < 10 and blue < 10, both.getpixel(corner)
    assert both.crop((0, 0, width, titled[3])).convert("L").getextrema()[1] > 240


def test_a_long_caption_shrinks_to_keep_its_band_small(tmp_path, fonts):
    plain = red_slide(tmp_path, fonts)
    captioned = red_slide(tmp_path, fonts, caption="아주 긴 설명 문장입니다 " * 30)
    band = ImageChops.difference(plain, captioned).getbbox()
    assert band[1] > FRAME[1] // 2


def test_blank_title_and_caption_draw_no_band(tmp_path, fonts):
    plain = red_slide(tmp_path, fonts)
    assert ImageChops.difference(plain, red_slide(tmp_path, fonts, title=" \u200b", caption="\n")).getbbox() is None


def test_the_thumbnail_of_an_image_slide_shows_the_picture(tmp_path, fonts):
    path = save(Image.new("RGB", (1600, 900), BLUE), tmp_path / "image", "JPEG")
    save_thumbnail(Slide(image=MEDIA), FRAME, tmp_path / "thumbnail.jpg", fonts, {MEDIA: path})
    with Image.open(tmp_path / "thumbnail.jpg") as thumbnail:
        assert thumbnail.size == (1280, 720) and close_to(thumbnail.getpixel((640, 360)), BLUE, 12)


@pytest.mark.parametrize("content", [b"not a picture", b"GIF89a" + bytes(100)])
def test_a_file_that_is_not_a_png_or_jpeg_is_unreadable(tmp_path, content):
    path = tmp_path / "image"
    path.write_bytes(content)
    with pytest.raises(PictureUnreadable):
        fitted_picture(path, FRAME, "contain", BACKGROUND)


def test_a_truncated_picture_is_unreadable(tmp_path):
    picture = Image.new("RGB", (800, 600))
    ImageDraw.Draw(picture).ellipse((100, 100, 700, 500), fill=RED)
    data = (save(picture, tmp_path / "whole", "PNG")).read_bytes()
    (tmp_path / "image").write_bytes(data[: len(data) // 2])
    with pytest.raises(PictureUnreadable):
        fitted_picture(tmp_path / "image", FRAME, "contain", BACKGROUND)


def test_a_picture_that_cannot_be_read_from_disk_stays_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        fitted_picture(tmp_path / "gone", FRAME, "contain", BACKGROUND)
