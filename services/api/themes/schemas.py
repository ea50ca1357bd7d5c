"""What the theme endpoints return (SPEC §8.3); they accept `libs.contracts.theme.Theme`."""

import msgspec

from libs.contracts.theme import Theme


class ThemeView(Theme, kw_only=True, frozen=True):
    """The stored theme: its fields as validated, named and dated."""

    theme_id: str
    updated_at: str
    updated_by: str
    """The subject of the token that last replaced it."""


class ThemePage(msgspec.Struct, kw_only=True):
    themes: list[ThemeView]
    total: int
    limit: int
    offset: int
