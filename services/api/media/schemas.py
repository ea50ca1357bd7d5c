"""What the media endpoints return."""

import msgspec


class MediaView(msgspec.Struct, kw_only=True):
    video_id: str
    media_id: str
    """`med-` + the first 32 hex digits of `sha256`: the same upload is the same media."""
    sha256: str
    """Of the uploaded bytes."""
    content_type: str
    """Of the stored image (re-encoded: image/png when it has transparency, else image/jpeg)."""
    width: int
    height: int
    bytes: int
    """Of the stored image."""
    created_by: str
    created_at: str


class MediaPage(msgspec.Struct, kw_only=True):
    video_id: str
    media: list[MediaView]
    total: int
    limit: int
    offset: int
