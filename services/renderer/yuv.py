"""Pictures in YUV 4:2:0 (BT.709), the encoder's own layout: what is converted once and then
pasted or blended as arrays, not redrawn and reconverted for every frame."""

import av
import numpy as np
from av.video.reformatter import Colorspace
from PIL import Image


class Planes:
    """A yuv420p picture as PyAV lays it out in one array (the three planes one after another,
    in rows of the luma width), with a view of each plane shaped as the plane is."""

    def __init__(self, packed: np.ndarray, width: int, height: int) -> None:
        self.packed, self.size = packed, (width, height)
        flat = packed.reshape(-1)
        luma, chroma = width * height, width * height // 4
        self.y = flat[:luma].reshape(height, width)
        self.u = flat[luma : luma + chroma].reshape(height // 2, width // 2)
        self.v = flat[luma + chroma :].reshape(height // 2, width // 2)

    @classmethod
    def of(cls, image: Image.Image) -> "Planes":
        return cls(to_yuv(image).to_ndarray(), image.width, image.height)

    def copy(self) -> "Planes":
        return Planes(self.packed.copy(), *self.size)

    def frame(self) -> av.VideoFrame:
        return av.VideoFrame.from_ndarray(self.packed, format="yuv420p")

    def paste(self, source: "Planes", at: tuple[int, int], window: tuple[int, int, int, int] | None = None) -> None:
        """`source` (or its `window`: left, top, right, bottom) with its top-left at `at`; all even."""
        x0, y0, x1, y1 = window or (0, 0, *source.size)
        left, top = at
        self.y[top : top + y1 - y0, left : left + x1 - x0] = source.y[y0:y1, x0:x1]
        for mine, theirs in ((self.u, source.u), (self.v, source.v)):
            mine[top // 2 : (top + y1 - y0) // 2, left // 2 : (left + x1 - x0) // 2] = theirs[
                y0 // 2 : y1 // 2, x0 // 2 : x1 // 2
            ]


def to_yuv(image: Image.Image) -> av.VideoFrame:
    return av.VideoFrame.from_image(image).reformat(format="yuv420p", dst_colorspace=Colorspace.ITU709)


class Overlay:
    """An RGBA picture to lay over YUV frames at `position` (even, as its size is): its colour
    converted once, with its coverage at luma and at chroma resolution. RGB to YUV is affine, so
    "coverage x picture + (1 - coverage) x frame" gives in YUV what it gives in RGB; a chroma
    sample takes its 2x2 block's mean coverage, a shade off at the picture's edges only. A frame
    that changes under a still caption (a transition) then costs the caption's own pixels, not a
    round trip of the whole frame through RGB."""

    def __init__(self, picture: Image.Image, position: tuple[int, int]) -> None:
        coverage = np.asarray(picture.getchannel("A"), dtype=np.float32) / 255
        height, width = coverage.shape
        self._colour = Planes.of(picture.convert("RGB"))
        self._coverage = (coverage, coverage.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)))
        self._position = position

    def over(self, planes: Planes) -> Planes:
        """A copy of `planes` with the picture drawn over it."""
        planes = planes.copy()
        left, top = self._position
        luma, chroma = self._coverage
        layers = (
            (planes.y, self._colour.y, luma, left, top),
            (planes.u, self._colour.u, chroma, left // 2, top // 2),
            (planes.v, self._colour.v, chroma, left // 2, top // 2),
        )
        for plane, colour, coverage, x, y in layers:
            height, width = coverage.shape
            under = plane[y : y + height, x : x + width]
            under[:] = np.rint(under + (colour - under.astype(np.float32)) * coverage)
        return planes
