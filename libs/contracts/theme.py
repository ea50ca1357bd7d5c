"""A brand's look (SPEC §8.3 Themes): colours, a font and a logo that slides are drawn with.

`Theme` is the body of `PUT /api/v2/themes/{theme_id}`; `ThemeAssets` is the theme as a render
receives it, its media resolved to the asset-store keys the renderer fetches them from (a theme
may name media of any video)."""

from typing import Literal

import msgspec

from libs.contracts.script import HexColor, MediaId

LogoPosition = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
DEFAULT_BACKGROUND = "#1e2a4a"
DEFAULT_TEXT = "#ffffff"
DEFAULT_ACCENT = "#f5b700"


class Theme(msgspec.Struct, kw_only=True, frozen=True):
    background: HexColor = DEFAULT_BACKGROUND
    """Behind every slide but a picture that covers it; a slide's own `background` wins."""
    text: HexColor = DEFAULT_TEXT
    accent: HexColor = DEFAULT_ACCENT
    """Titles' rule, bullets' marks, a quote's bar, the section slide's band."""
    font: MediaId | None = None
    """An uploaded TTF or OTF font (media of any video); None: the bundled Noto Sans CJK KR."""
    logo: MediaId | None = None
    """An uploaded image (media of any video) drawn on every slide."""
    logo_position: LogoPosition = "top-right"


DEFAULT_THEME = Theme()


class ThemeAssets(msgspec.Struct, kw_only=True, frozen=True):
    """A render's theme: its colours, and where its font and logo are in the asset store."""

    theme: Theme = DEFAULT_THEME
    font_key: str | None = None
    """The asset-store key of the font's media (libs.storage.media_key), when the theme has one."""
    logo_key: str | None = None
