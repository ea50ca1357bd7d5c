"""What a script may name as its theme, checked when it is saved (a job's create checks again,
themes/snapshot.py): a theme that exists, and for a Korean script one whose font has Hangul."""

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.contracts.script import Script
from services.api.db.models import MediaRow, ThemeRow
from services.api.errors import InvalidField
from services.api.themes.store import unknown_theme

_THEME_FONT = (
    select(ThemeRow.font, MediaRow.family, MediaRow.covers_hangul)
    # Any video's row of the font: the same id is the same bytes, so the same facts.
    .outerjoin(MediaRow, MediaRow.media_id == ThemeRow.font)
    .where(ThemeRow.theme_id == bindparam("theme_id"))
    .limit(1)
)


async def require_usable_theme(session: AsyncSession, script: Script) -> None:
    """Raises InvalidField naming `$.theme` when the script's theme does not exist, or when the
    script is Korean and the theme's font cannot write it (the bundled font, without `font`, can)."""
    if script.theme is None:
        return
    theme = (await session.execute(_THEME_FONT, {"theme_id": script.theme})).first()
    if theme is None:
        raise unknown_theme(script.theme)
    if script.primary_language == "ko" and theme.covers_hangul is False:
        raise InvalidField(
            "$.theme",
            f"theme {script.theme!r} uses font {theme.font} ({theme.family}) which has no Hangul; "
            "upload a font with Hangul or drop `font`",
        )
