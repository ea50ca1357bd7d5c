"""Themes, one row each replaced whole by a PUT once the media it names are of the right kind.

A theme may name media of any video: media ids are content addressed, so one id is the same
bytes (and the same kind) in every video that holds it."""

import msgspec
from sqlalchemy import true

from libs.contracts.theme import Theme
from services.api.db.engine import Database
from services.api.db.inserts import columns_of, insert_into, table_of
from services.api.db.models import ThemeRow, utc_now
from services.api.db.pages import page_of
from services.api.errors import InvalidField, ThemeNotFound
from services.api.media.named import NamedMedia, require_named_media

_THEMES = table_of(ThemeRow)
_DECODER = msgspec.json.Decoder(Theme)


def _replace_statement(dialect: str):
    statement = insert_into(dialect, _THEMES)
    return statement.on_conflict_do_update(
        index_elements=[_THEMES.c.theme_id],
        set_={name: statement.excluded[name] for name in ("body", "font", "logo", "updated_by", "updated_at")},
    ).returning(_THEMES.c.created_at)


# Insert or replace in one statement: two PUTs at once (two API instances) cannot both insert.
_REPLACE = {dialect: _replace_statement(dialect) for dialect in ("sqlite", "postgresql")}


def decode_theme(body: bytes) -> Theme:
    return _DECODER.decode(body)


def unknown_theme(theme_id: str) -> InvalidField:
    """The 422 for a script naming a theme that does not exist, at save and at render."""
    return InvalidField("$.theme", f"no theme {theme_id!r}; create it first (PUT /api/v2/themes/{theme_id})")


async def replace_theme(db: Database, theme_id: str, theme: Theme, updated_by: str) -> tuple[ThemeRow, bool]:
    """Stores `theme` as `theme_id`, replacing any before, once the media it names are a font
    and an image. Returns (row, created). Jobs already created keep the theme they were created
    with (themes/snapshot.py)."""
    now = utc_now()
    row = ThemeRow(
        theme_id=theme_id,
        body=msgspec.json.encode(theme),
        font=theme.font,
        logo=theme.logo,
        created_at=now,
        updated_by=updated_by,
        updated_at=now,
    )
    async with db.writer.begin() as connection:
        # Locked against the TTL sweep until this theme, which keeps them, commits (ops/retention.py).
        await require_named_media(connection, _named_media(theme), video_id=None)
        row.created_at = (await connection.execute(_REPLACE[db.dialect], columns_of(row))).scalar_one()
    # A replaced row keeps the created_at of its first PUT.
    return row, row.created_at == now


async def stored_theme(db: Database, theme_id: str) -> ThemeRow:
    async with db.read_session() as session:
        row = await session.get(ThemeRow, theme_id)
    if row is None:
        raise ThemeNotFound(f"Theme {theme_id!r} does not exist.", theme_id=theme_id)
    return row


async def theme_page(db: Database, limit: int, offset: int) -> tuple[list[ThemeRow], int]:
    async with db.read_session() as session:
        return await page_of(session, ThemeRow, true(), (ThemeRow.theme_id,), limit, offset)


def _named_media(theme: Theme) -> list[NamedMedia]:
    """The theme's font and logo, as the fields that name them."""
    named = []
    if theme.font:
        named.append(NamedMedia("$.font", theme.font, "font"))
    if theme.logo:
        named.append(NamedMedia("$.logo", theme.logo, "image"))
    return named
