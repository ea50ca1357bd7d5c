"""Media endpoints: a video's own images, fonts and audio, for image slides, themes and music
beds (SPEC §2 and §8.3, issues 15 and 27)."""

from typing import cast

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from services.api.auth.roles import Role, requires
from services.api.db.models import MediaRow
from services.api.media.kinds import MediaIntake
from services.api.media.schemas import MediaKind, MediaPage, MediaView
from services.api.media.store import MediaStore
from services.api.openapi import READ_ERRORS, error_responses
from services.api.params import Limit, MediaIdParam, Offset, VideoId
from services.api.timestamps import iso_utc
from services.api.uploads import uploaded_bytes

CONTENT_CACHING = "private, max-age=31536000, immutable"
"""A media id names its bytes: they never change under it."""


class MediaController(Controller):
    path = "/videos/{video_id:str}/media"
    tags = ["media"]
    guards = [requires(Role.VIEWER)]

    @post(
        "/",
        operation_id="uploadMedia",
        status_code=HTTP_201_CREATED,
        guards=[requires(Role.EDITOR)],
        responses={
            **error_responses(401, 403, 413, 415, 422, 429, 503),
            HTTP_200_OK: ResponseSpec(MediaView, description="The video already has these bytes"),
        },
    )
    async def upload_media(
        self, request: Request, media: MediaStore, media_intake: MediaIntake, subject: str, video_id: VideoId
    ) -> Response[MediaView]:
        """Store an image, a font or audio, told by its bytes (never its name or Content-Type):
        the body itself, or a multipart/form-data field `file`. 201 when new, 200 with the same
        media when the video already has these bytes.

        - Image: PNG, JPEG or WebP; at most MEDIA_MAX_BYTES (25 MiB), MEDIA_MAX_PIXELS
          (50,000,000) and MEDIA_MAX_SIDE_PX (12,000 px a side) by default, from the header;
          EXIF orientation applied and metadata (GPS included) stripped.
        - Font: TTF or OTF (a TTC collection, WOFF or WOFF2 is refused with 415); at most
          MEDIA_MAX_BYTES; stored as uploaded, with its family name and whether it covers the
          2,350 KS X 1001 Hangul syllables.
        - Audio: WAV (PCM), MP3, M4A (AAC), Ogg (Opus or Vorbis) or FLAC; at most
          MEDIA_MAX_AUDIO_BYTES (100 MiB) and MEDIA_MAX_AUDIO_SEC (30 min): the length the header
          claims, and then the whole file decoded; 8-192 kHz, mono or stereo. Stored as uploaded.

        Fonts and audio are read in a separate process with memory, CPU and time limits."""
        data = await uploaded_bytes(request)
        stored = await media_intake.accept(data)
        row, created = await media.add(video_id, stored, subject)
        return Response(media_view(row), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get("/", operation_id="listMedia", responses=READ_ERRORS)
    async def list_media(self, media: MediaStore, video_id: VideoId, limit: Limit = 20, offset: Offset = 0) -> MediaPage:
        """The video's media (images, fonts, audio), newest first."""
        rows, total = await media.page(video_id, limit, offset)
        return MediaPage(video_id=video_id, media=[media_view(row) for row in rows], total=total, limit=limit, offset=offset)

    @get("/{media_id:str}", operation_id="getMedia", responses=READ_ERRORS)
    async def get_media(self, media: MediaStore, video_id: VideoId, media_id: MediaIdParam) -> MediaView:
        """One media's kind and facts."""
        return media_view(await media.get(video_id, media_id))

    @get(
        "/{media_id:str}/content",
        operation_id="getMediaContent",
        responses={
            **READ_ERRORS,
            HTTP_200_OK: ResponseSpec(bytes, description="The stored file", media_type="*/*"),
        },
    )
    async def get_media_content(self, media: MediaStore, video_id: VideoId, media_id: MediaIdParam) -> Stream:
        """The stored file itself, with its content type: an image as re-encoded (image/png or
        image/jpeg), a font or audio as uploaded (font/ttf, font/otf, audio/wav, audio/mpeg,
        audio/mp4, audio/ogg, audio/flac)."""
        row = await media.get(video_id, media_id)
        return Stream(
            media.read(video_id, row),
            media_type=row.content_type,
            headers={"content-length": str(row.bytes), "cache-control": CONTENT_CACHING, "etag": f'"{row.media_id}"'},
        )


def media_view(row: MediaRow) -> MediaView:
    return MediaView(
        video_id=row.video_id,
        media_id=row.media_id,
        kind=cast(MediaKind, row.kind),
        sha256=row.sha256,
        content_type=row.content_type,
        width=row.width,
        height=row.height,
        duration_sec=row.duration_sec,
        sample_rate=row.sample_rate,
        channels=row.channels,
        codec=row.codec,
        family=row.family,
        covers_hangul=row.covers_hangul,
        bytes=row.bytes,
        created_by=row.created_by,
        created_at=iso_utc(row.created_at),
    )
