"""A caption laid over a frame in YUV against the same caption pasted in RGB and converted."""

import numpy as np
from PIL import Image, ImageDraw

from services.renderer.burn_in import BOX_COLOUR
from services.renderer.yuv import Overlay, Planes

SIZE = (320, 180)
POSITION = (60, 110)


def colourful_slide() -> Image.Image:
    """Bands of saturated colour, so chroma under the box differs from column to column."""
    slide = Image.new("RGB", SIZE)
    draw = ImageDraw.Draw(slide)
    for number, colour in enumerate(["#e53935", "#43a047", "#1e88e5", "#fdd835", "#8e24aa", "#00acc1", "#fb8c00", "#ffffff"]):
        draw.rectangle((number * 40, 0, number * 40 + 39, SIZE[1]), fill=colour)
    return slide


def caption_box() -> Image.Image:
    """A half-transparent dark box with opaque white strokes, as burned-in captions are drawn."""
    box = Image.new("RGBA", (200, 40), BOX_COLOUR)
    ImageDraw.Draw(box).text((10, 10), "caption 자막", fill="#ffffff")
    return box


def test_a_picture_laid_over_yuv_planes_matches_the_rgb_paste_converted():
    slide, box = colourful_slide(), caption_box()
    pasted = slide.copy()
    pasted.paste(box, POSITION, box)
    expected = Planes.of(pasted)

    under = Planes.of(slide)
    laid = Overlay(box, POSITION).over(under)

    assert np.array_equal(under.packed, Planes.of(slide).packed), "the planes it was laid over are left as they were"
    luma_error = np.abs(laid.y.astype(int) - expected.y)
    assert luma_error.max() <= 2  # rounding: the conversion is affine
    for mine, theirs in ((laid.u, expected.u), (laid.v, expected.v)):
        chroma_error = np.abs(mine.astype(int) - theirs)
        # A chroma sample averages its 2x2 block's coverage: off at the strokes' edges only.
        assert chroma_error.mean() < 1 and np.percentile(chroma_error, 99) <= 6
    outside = np.ones(laid.y.shape, bool)
    outside[POSITION[1] : POSITION[1] + 40, POSITION[0] : POSITION[0] + 200] = False
    assert np.array_equal(laid.y[outside], under.y[outside])
