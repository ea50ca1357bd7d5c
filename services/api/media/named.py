"""Media a script or a theme names, checked when it is saved: each must exist, and be of the kind
the field that names it takes."""

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.api.db.models import MediaRow
from services.api.errors import InvalidField
from services.api.media.schemas import KIND_NAMES, MediaKind


class NamedMedia(NamedTuple):
    field: str
    """Where the body names it, as a JSON path."""
    media_id: str
    kind: MediaKind
    """The kind of media that field takes."""


async def require_named_media(
    executor: AsyncSession | AsyncConnection, named: Sequence[NamedMedia], video_id: str | None
) -> None:
    """Raises InvalidField naming the first field whose media `video_id` does not have (no video,
    when None: a theme may name media of any) or has as another kind (audio named as a font).

    The rows found are locked (FOR KEY SHARE) until the caller commits, so the TTL sweep cannot
    delete one of them in between (ops/retention.py)."""
    if not named:
        return
    statement = (
        select(MediaRow.media_id, MediaRow.kind)
        .where(MediaRow.media_id.in_({media.media_id for media in named}))
        .with_for_update(read=True, key_share=True)
    )
    if video_id is not None:
        statement = statement.where(MediaRow.video_id == video_id)
    kinds = dict((await executor.execute(statement)).all())
    for field, media_id, kind in named:
        found = kinds.get(media_id)
        if found is None:
            owner = f"video {video_id!r} has no media" if video_id is not None else "no video has media"
            raise InvalidField(field, f"{owner} {media_id!r}; upload the {kind} first (POST …/media)")
        if found != kind:
            raise InvalidField(field, f"media {media_id!r} is {KIND_NAMES[found]}, not {KIND_NAMES[kind]}")
