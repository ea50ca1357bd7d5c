"""Media endpoints: a video's own images, for image slides (SPEC §2, issue 15)."""

import asyncio

from litestar import Controller, Request, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from services.api.auth.roles import Role, requires
from services.api.db.models import MediaRow
from services.api.media.intake import MediaLimits, intake
from services.api.media.schemas import MediaPage, MediaView
from services.api.media.store import MediaStore
from services.api.openapi import READ_ERRORS, error_responses
from services.api.params import Limit, MediaIdParam, Offset, VideoId
from services.api.settings import Settings
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
        self, request: Request, media: MediaStore, settings: Settings, subject: str, video_id: VideoId
    ) -> Response[MediaView]:
        """Store an image (PNG, JPEG or WebP, told by its bytes): the body itself, or a
        multipart/form-data field `file`. At most MEDIA_MAX_BYTES (25 MiB), MEDIA_MAX_PIXELS
        (50,000,000) and MEDIA_MAX_SIDE_PX (12,000 px a side) by default; EXIF orientation is
        applied and metadata (GPS included) stripped. 201 when new, 200 with the same media when
        the video already has these bytes."""
        data = await uploaded_bytes(request)
        limits = MediaLimits(
            max_bytes=settings.media_max_bytes, max_pixels=settings.media_max_pixels, max_side_px=settings.media_max_side_px
        )
        # Decoding a large picture takes a good part of a second: not on the event loop.
        image = await asyncio.to_thread(intake, data, limits)
        row, created = await media.add(video_id, image, subject)
        return Response(media_view(row), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @get("/", operation_id="listMedia", responses=READ_ERRORS)
    async def list_media(self, media: MediaStore, video_id: VideoId, limit: Limit = 20, offset: Offset = 0) -> MediaPage:
        """The video's images, newest first."""
        rows, total = await media.page(video_id, limit, offset)
        return MediaPage(video_id=video_id, media=[media_view(row) for row in rows], total=total, limit=limit, offset=offset)

    @get("/{media_id:str}", operation_id="getMedia", responses=READ_ERRORS)
    async def get_media(self, media: MediaStore, video_id: VideoId, media_id: MediaIdParam) -> MediaView:
        """One image's metadata."""
        return media_view(await media.get(video_id, media_id))

    @get(
        "/{media_id:str}/content",
        operation_id="getMediaContent",
        responses={
            **READ_ERRORS,
            HTTP_200_OK: ResponseSpec(bytes, description="The stored image", media_type="image/*"),
        },
    )
    async def get_media_content(self, media: MediaStore, video_id: VideoId, media_id: MediaIdParam) -> Stream:
        """The stored image itself (re-encoded as uploaded: image/png or image/jpeg)."""
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
        sha256=row.sha256,
        content_type=row.content_type,
        width=row.width,
        height=row.height,
        bytes=row.bytes,
        created_by=row.created_by,
        created_at=iso_utc(row.created_at),
    )
