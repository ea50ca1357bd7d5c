"""The slow zoom of an image slide (`"motion": "zoom-in"`).

The picture is fitted once at ZOOM_SCALE times the frame; each frame shows a centred part of it
scaled to the frame, that part shrinking from all of it (the slide as it would stand still) to
its middle 1 / ZOOM_SCALE, so the picture grows by ZOOM_SCALE over the scene. The title and
caption bands are an overlay of their own and hold still. Frames are drawn at MOTION_FPS (or the
video's constant rate) only while a picture moves: a still scene stays one frame.
"""

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ZOOM_SCALE = 1.12
"""How much larger the picture is at the end of its scene than at its start: slow, about what
peers call a Ken Burns effect (MoneyPrinterTurbo grows its images ~3 % a second)."""


@dataclass(frozen=True)
class ZoomLayers:
    picture: Path
    """The picture fitted at ZOOM_SCALE × the frame on the slide background (RGB)."""
    overlay: Path | None
    """The slide's title and caption bands at the frame size (RGBA); None when it has neither."""


def zoomed_size(size: tuple[int, int]) -> tuple[int, int]:
    return round(size[0] * ZOOM_SCALE), round(size[1] * ZOOM_SCALE)


def zoom_frame(picture: Image.Image, overlay: Image.Image | None, size: tuple[int, int], progress: float) -> Image.Image:
    """The frame `progress` (0 at the scene's start, towards 1 at its end) of the way through the zoom."""
    scale = 1 + (ZOOM_SCALE - 1) * min(max(progress, 0.0), 1.0)
    width, height = picture.size
    shown_width, shown_height = width / scale, height / scale
    left, top = (width - shown_width) / 2, (height - shown_height) / 2
    # Bilinear: a downscale by at most ZOOM_SCALE, redone for every frame.
    frame = picture.resize(size, Image.Resampling.BILINEAR, box=(left, top, left + shown_width, top + shown_height))
    if overlay is not None:
        frame.paste(overlay, (0, 0), overlay)
    return frame
