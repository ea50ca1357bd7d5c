"""What the media endpoints return."""

from typing import Literal

import msgspec

MediaKind = Literal["image", "font", "audio"]
KIND_NAMES: dict[str, str] = {"image": "an image", "font": "a font", "audio": "audio"}
"""Each kind as a message names it: "media … is audio, not a font"."""


class MediaView(msgspec.Struct, kw_only=True):
    video_id: str
    media_id: str
    """`med-` + the first 32 hex digits of `sha256`: the same upload is the same media."""
    kind: MediaKind
    """Told by the uploaded bytes: a PNG, JPEG or WebP image, a TTF or OTF font, or WAV, MP3,
    M4A (AAC), Ogg (Opus or Vorbis) or FLAC audio. The facts of the other kinds are null."""
    sha256: str
    """Of the uploaded bytes."""
    content_type: str
    """Of the stored file: an image is re-encoded (image/png when it has transparency, else
    image/jpeg); a font (font/ttf, font/otf) or audio (audio/wav, audio/mpeg, audio/mp4,
    audio/ogg, audio/flac) is stored as uploaded."""
    width: int | None
    """Image: as displayed (EXIF orientation applied)."""
    height: int | None
    duration_sec: float | None
    """Audio: as decoded, not as its header claims."""
    sample_rate: int | None
    channels: int | None
    codec: str | None
    """Audio: pcm_s16le (or another PCM), mp3, aac, opus, vorbis or flac."""
    family: str | None
    """Font: its family name."""
    covers_hangul: bool | None
    """Font: it has a glyph for each of the 2,350 Hangul syllables of KS X 1001, which everyday
    Korean is written in; a theme for a Korean script needs such a font."""
    bytes: int
    """Of the stored file."""
    created_by: str
    created_at: str


class MediaPage(msgspec.Struct, kw_only=True):
    video_id: str
    media: list[MediaView]
    total: int
    limit: int
    offset: int
