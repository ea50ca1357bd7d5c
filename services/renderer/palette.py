"""The colours a slide is drawn in: its theme's (SPEC §8.3), a slide's own background winning, and
text kept readable on whatever it is drawn over."""

from dataclasses import dataclass
from typing import Literal

from libs.contracts.script import Slide
from libs.contracts.theme import DEFAULT_THEME, Theme

LIGHT_TEXT, DARK_TEXT = "#ffffff", "#16181d"
Ink = Literal["text", "mark", "on-accent", "on-shade"]
"""What a line of text is drawn over, which picks its colour: the slide, as a bullet's mark, the
accent colour (a section's band), or a dark shade over a picture."""


@dataclass(frozen=True)
class Palette:
    background: str
    text: str
    accent: str
    marks: str
    """Bullets' marks: the accent with a theme, the text colour (as they always were) without."""

    def ink(self, ink: Ink) -> str:
        match ink:
            case "text":
                return self.text
            case "mark":
                return self.marks
            case "on-accent":
                return readable_on(self.accent)
            case "on-shade":
                return LIGHT_TEXT


def slide_palette(slide: Slide, theme: Theme | None) -> Palette:
    """`theme`'s colours for `slide` (None: the default look), its text in the theme's colour where
    that reads on the background, else in LIGHT_TEXT or DARK_TEXT, whichever does."""
    colours = theme or DEFAULT_THEME
    background = slide.background or colours.background
    text = colours.text if is_light(colours.text) != is_light(background) else readable_on(background)
    return Palette(background=background, text=text, accent=colours.accent, marks=text if theme is None else colours.accent)


def readable_on(background: str) -> str:
    return DARK_TEXT if is_light(background) else LIGHT_TEXT


def is_light(color: str) -> bool:
    red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue > 140
