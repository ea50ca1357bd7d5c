"""A video's own picture fitted to a slide (research/media.md §4).

The API stores pictures already normalised (orientation applied, RGB or RGBA, a PNG or a JPEG).
A JPEG is decoded at the smallest DCT scale that still covers its box (`draft`), which made
fitting a 4000×3000 photo to 1080p two to three times faster; the rest is one LANCZOS resize of
only the part that shows. Transparent pictures are composited over the slide background:
dropping alpha would show whatever colour sits under the transparent pixels.
"""

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from libs.contracts.script import Fit

FORMATS = ["PNG", "JPEG"]
"""What the API stores; anything else in the file is refused rather than handed to a decoder."""


class PictureUnreadable(Exception):
    """The stored picture does not decode: another attempt would fare no better."""


@dataclass(frozen=True)
class Placement:
    box: tuple[float, float, float, float]
    """The part of the picture that shows, in its own pixels."""
    size: tuple[int, int]
    """What that part is scaled to."""
    position: tuple[int, int]
    """Where its top left lands on the frame."""


def place(picture: tuple[int, int], frame: tuple[int, int], fit: Fit) -> Placement:
    """contain: the whole picture, as large as fits, centred; cover: the frame filled, the
    picture's overflow cut evenly from both sides."""
    (width, height), (frame_width, frame_height) = picture, frame
    if fit == "cover":
        scale = max(frame_width / width, frame_height / height)
        shown_width, shown_height = frame_width / scale, frame_height / scale
        left, top = (width - shown_width) / 2, (height - shown_height) / 2
        return Placement((left, top, left + shown_width, top + shown_height), frame, (0, 0))
    scale = min(frame_width / width, frame_height / height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return Placement((0, 0, width, height), size, ((frame_width - size[0]) // 2, (frame_height - size[1]) // 2))


def fitted_picture(path: Path, size: tuple[int, int], fit: Fit, background: str) -> Image.Image:
    """An RGB frame of `size` in `background` with the picture at `path` fitted on it.

    Raises PictureUnreadable for a file that is not a whole PNG or JPEG; OSError for the disk."""
    frame = Image.new("RGB", size, background)
    with decoding(), Image.open(path, formats=FORMATS) as picture:
        if picture.format == "JPEG":
            placement = place(picture.size, size, fit)
            picture.draft("RGB", _whole_size(picture.size, placement))
        placement = place(picture.size, size, fit)  # the draft may have made it smaller
        colours: Image.Image = picture
        if picture.mode not in ("RGB", "RGBA"):
            colours = picture.convert("RGBA" if picture.has_transparency_data else "RGB")
        # Pillow premultiplies alpha while resampling, so hidden colours do not bleed into the edges.
        scaled = colours.resize(placement.size, Image.Resampling.LANCZOS, box=placement.box)
    frame.paste(scaled, placement.position, scaled if scaled.mode == "RGBA" else None)
    return frame


@contextmanager
def decoding() -> Iterator[None]:
    """Raises PictureUnreadable for what a decoder says of a file that is not a whole PNG or JPEG;
    lets OSError for the disk through."""
    try:
        yield
    except Image.UnidentifiedImageError as error:
        # Its message names the file, a path on this host: the job's error goes to API callers.
        raise PictureUnreadable("not a PNG or JPEG file") from error
    except (Image.DecompressionBombError, SyntaxError, ValueError) as error:  # some decoders' bad-data errors
        raise PictureUnreadable(str(error)) from error
    except OSError as error:
        if error.errno is not None:
            raise  # the file could not be read: a storage failure, which may pass
        raise PictureUnreadable(str(error)) from error  # Pillow's "image file is truncated"


def _whole_size(picture: tuple[int, int], placement: Placement) -> tuple[int, int]:
    """The size the whole picture is scaled to by `placement`: what a JPEG draft must still cover."""
    left, top, right, bottom = placement.box
    return (
        math.ceil(picture[0] * placement.size[0] / (right - left)),
        math.ceil(picture[1] * placement.size[1] / (bottom - top)),
    )
