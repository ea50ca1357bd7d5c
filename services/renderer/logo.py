"""A theme's logo (SPEC §8.3): an uploaded PNG or JPEG, transparent or not, in one corner of every
slide and the thumbnail, inside the margins, LOGO_HEIGHT of the frame's short side tall. Text
keeps clear of it: a layout's text box gives up the strip of the frame the logo stands in."""

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from libs.contracts.theme import LogoPosition
from services.renderer.pictures import FORMATS, PictureUnreadable, decoding
from services.renderer.slide_text import Box, margin_box

LOGO_HEIGHT = 0.11
"""Of the short side: noticeable in a phone's 9:16 feed, yet no more than a corner of a 16:9 slide."""
MAX_LOGO_ASPECT = 3.0
"""A wordmark wider than this many times its height is shrunk to this width, not left to cross the slide."""
LOGO_GAP = 0.025
"""Between the logo and the text, as a fraction of the short side."""


@dataclass(frozen=True)
class PlacedLogo:
    """The logo scaled for one frame size, and where it stands in it."""

    picture: Image.Image
    """RGBA."""
    box: Box
    gap: int

    def stamp(self, image: Image.Image) -> None:
        """Draws the logo over `image`: a slide (RGB) or an overlay (RGBA)."""
        position = (self.box.left, self.box.top)
        if image.mode == "RGBA":
            image.alpha_composite(self.picture, position)
        else:
            image.paste(self.picture, position, self.picture)

    def clear_of(self, box: Box) -> Box:
        """`box` less the strip of the frame, across its width, that the logo and its gap take,
        when the logo falls inside it; else `box` itself."""
        logo = self.box
        if logo.right <= box.left or logo.left >= box.right or logo.bottom <= box.top or logo.top >= box.bottom:
            return box
        if logo.top - box.top < box.bottom - logo.bottom:  # the logo stands at the box's top
            return Box(box.left, max(box.top, logo.bottom + self.gap), box.right, box.bottom)
        return Box(box.left, box.top, box.right, min(box.bottom, logo.top - self.gap))


class Logo:
    """A theme's logo, decoded once for a job and scaled once for each frame size it is drawn at."""

    def __init__(self, picture: Image.Image, position: LogoPosition) -> None:
        self._picture = picture.convert("RGBA")
        self._position = position
        self._placed: dict[tuple[int, int], PlacedLogo] = {}

    @classmethod
    def open(cls, path: Path, position: LogoPosition) -> "Logo":
        """Raises PictureUnreadable for a file that is not a whole PNG or JPEG; OSError for the disk."""
        try:
            with decoding(), Image.open(path, formats=FORMATS) as picture:
                return cls(picture, position)
        except PictureUnreadable as error:
            raise PictureUnreadable(f"the theme's logo: {error}") from error

    def placed(self, size: tuple[int, int]) -> PlacedLogo:
        if size not in self._placed:
            self._placed[size] = self._place(size)
        return self._placed[size]

    def _place(self, size: tuple[int, int]) -> PlacedLogo:
        short = min(size)
        width, height = self._picture.size
        logo_height = max(1, round(short * LOGO_HEIGHT))
        logo_width = max(1, round(width * logo_height / height))
        if logo_width > logo_height * MAX_LOGO_ASPECT:
            logo_width = round(logo_height * MAX_LOGO_ASPECT)
            logo_height = max(1, round(height * logo_width / width))
        # Pillow premultiplies alpha while resampling, so a transparent logo's hidden colours stay hidden.
        picture = self._picture.resize((logo_width, logo_height), Image.Resampling.LANCZOS)
        margins = margin_box(size)
        vertical, horizontal = self._position.split("-")
        left = margins.left if horizontal == "left" else margins.right - logo_width
        top = margins.top if vertical == "top" else margins.bottom - logo_height
        return PlacedLogo(picture, Box(left, top, left + logo_width, top + logo_height), gap=round(short * LOGO_GAP))
