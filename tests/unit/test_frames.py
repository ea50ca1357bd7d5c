"""The frame of each script format under RENDER_RESOLUTION (libs/frames.py)."""

import pytest

from libs.contracts.script import FORMAT_SIZES
from libs.frames import frame_size


def test_the_default_resolution_gives_each_format_its_full_size():
    assert {name: frame_size(name, (1920, 1080)) for name in FORMAT_SIZES} == FORMAT_SIZES


@pytest.mark.parametrize(
    ("resolution", "expected"),
    [
        ((640, 360), {"16:9": (640, 360), "9:16": (360, 640), "1:1": (360, 360), "4:5": (360, 450)}),
        ((1280, 720), {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (720, 720), "4:5": (720, 900)}),
        # 180 × 1350 / 1080 = 225: rounded to an even side.
        ((320, 180), {"16:9": (320, 180), "9:16": (180, 320), "1:1": (180, 180), "4:5": (180, 224)}),
    ],
)
def test_every_format_is_scaled_alike_by_the_short_side_to_even_sides(resolution, expected):
    assert {name: frame_size(name, resolution) for name in FORMAT_SIZES} == expected


def test_16_9_is_render_resolution_as_set():
    assert frame_size("16:9", (1000, 600)) == (1000, 600)
    assert frame_size("1:1", (1000, 600)) == (600, 600)
