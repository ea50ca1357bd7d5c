"""The frame a script's format is rendered at (SPEC §8.3), given RENDER_RESOLUTION.

RENDER_RESOLUTION is the 16:9 frame, as it always was. Every other format is its full size
(FORMAT_SIZES) scaled by the factor that takes 16:9's short side (1080) to RENDER_RESOLUTION's
short side, so a smaller setting makes every format smaller alike: 640x360 gives 9:16 at 360×640,
1:1 at 360×360 and 4:5 at 360×450. Sides are rounded to even numbers, which H.264's 4:2:0
chroma needs.
"""

from libs.contracts.script import FORMAT_SIZES, VideoFormatName

DEFAULT_FORMAT: VideoFormatName = "16:9"


def frame_size(format_name: VideoFormatName, render_resolution: tuple[int, int]) -> tuple[int, int]:
    """The width and height of a video in `format_name` under RENDER_RESOLUTION."""
    if format_name == DEFAULT_FORMAT:
        return render_resolution
    full_width, full_height = FORMAT_SIZES[format_name]
    reference_width, reference_height = FORMAT_SIZES[DEFAULT_FORMAT]
    scale = min(render_resolution) / min(reference_width, reference_height)
    return _even(full_width * scale), _even(full_height * scale)


def _even(side: float) -> int:
    return max(2, round(side / 2) * 2)
