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

    def image(self) -> Image.Image:
        """Back to RGB, for what must be drawn over it."""
        return self.frame().reformat(format="rgb24", src_colorspace=Colorspace.ITU709).to_image()

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
