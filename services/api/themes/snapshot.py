"""The theme a job is drawn with, fixed when the job is created so a later PUT never changes a
retry: the theme's fields, its font and logo resolved to the asset-store keys a renderer
fetches them from (`ThemeAssets`, stored as msgspec JSON in `job_themes`)."""

import msgspec
from sqlalchemy import Row

from libs.contracts.theme import ThemeAssets
from libs.storage import media_key
from services.api.errors import InvalidField
from services.api.themes.store import decode_theme, unknown_theme

_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(ThemeAssets)


def theme_assets(theme_id: str, row: Row | None) -> ThemeAssets:
    """The theme a render gets, from the theme's row as THEME_TO_RENDER reads it
    (jobs/statements.py). Raises InvalidField naming `$.theme` when the theme, or media it
    names, is gone: the render is refused rather than drawn with another look."""
    if row is None:
        raise unknown_theme(theme_id)
    theme = decode_theme(row.body)
    return ThemeAssets(
        theme=theme,
        font_key=_key(theme_id, "font", theme.font, row.font_video),
        logo_key=_key(theme_id, "logo", theme.logo, row.logo_video),
    )


def encode_job_theme(assets: ThemeAssets) -> bytes:
    """What `job_themes` keeps of a new job's theme."""
    return _ENCODER.encode(assets)


def decode_job_theme(data: bytes | None) -> ThemeAssets | None:
    """A job's theme; None for a job whose script names none (it has no row)."""
    return _DECODER.decode(data) if data else None


def _key(theme_id: str, field: str, media_id: str | None, video_id: str | None) -> str | None:
    """Where the renderer fetches the media: under the video that holds it (any one will do,
    since the same id is the same bytes in each)."""
    if media_id is None:
        return None
    if video_id is None:
        raise InvalidField(
            "$.theme",
            f"theme {theme_id!r} names {field} {media_id!r}, which no video has any more; upload it and PUT the theme again",
        )
    return media_key(video_id, media_id)
