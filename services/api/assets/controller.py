"""GET/HEAD /assets/{video_id}/{job_id}/{file_name}: a published job file, seekable and cacheable (SPEC §2)."""

from email.utils import formatdate
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, route
from litestar.datastructures import CacheControlHeader, ETag
from litestar.di import NamedDependency
from litestar.enums import HttpMethod
from litestar.exceptions.responses import create_exception_response
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from litestar.response.base import ASGIResponse
from litestar.response.file import ASGIFileResponse
from litestar.response.streaming import ASGIStreamingResponse
from litestar.status_codes import HTTP_206_PARTIAL_CONTENT, HTTP_304_NOT_MODIFIED

from libs.contracts.codes import JobStatus
from libs.storage import AssetStore, StorageError, job_key
from services.api.assets.ranges import ByteRange, if_range_allows_partial, parse_range
from services.api.assets.signing import signature_is_valid
from services.api.errors import AssetNotFound, AssetSignatureInvalid, AssetStoreUnavailable, RangeNotSatisfiable
from services.api.jobs.store import JobStore
from services.api.openapi import ASSET_ERRORS
from services.api.settings import Settings

_MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
_UNKNOWN_MEDIA_TYPE = "application/octet-stream"

# A job's files are published once as a set (a rename, or a manifest) and never rewritten (a new
# render is a new job id), so browsers and proxies may keep these files for as long as they like.
_IMMUTABLE_FILE_CACHING = CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True).to_header()


async def _require_published_job(jobs: JobStore, video_id: str, job_id: str) -> None:
    """`AssetNotFound` unless `job_id` is a SUCCEEDED job of `video_id`: files of running, failed
    or canceled jobs stay unreachable even while their folder exists, and the answer is the same
    404 as for a missing file so it tells nothing about the job."""
    job = await jobs.find(job_id)
    if job is None or job.video_id != video_id or job.status != JobStatus.SUCCEEDED:
        raise AssetNotFound("No such asset")


def _matches_if_none_match(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: `*` or any listed tag equal to ours under weak comparison."""
    return any(tag.strip().removeprefix("W/") in ("*", etag) for tag in if_none_match.split(","))


def _requested_range(request: Request[Any, Any, Any], size: int, etag: str, last_modified: str) -> ByteRange | None:
    # Range is defined for GET only (RFC 9110 §14.2), so a HEAD describes the whole file.
    range_header = request.headers.get("range")
    if request.method != HttpMethod.GET or range_header is None:
        return None
    if not if_range_allows_partial(request.headers.get("if-range"), etag, last_modified):
        return None
    return parse_range(range_header, size)


def _render_unsatisfiable_range(request: Request[Any, Any, Any], exc: RangeNotSatisfiable) -> Response[Any]:
    """Render a 416 like any other application error, plus the `Content-Range: bytes */size`
    RFC 9110 §15.5.17 asks for, which tells the client how long the file really is."""
    handlers = request.route_handler.resolve_exception_handlers()
    render_error = next(
        (
            handlers[error_class]
            for error_class in type(exc).__mro__
            if error_class in handlers and handlers[error_class] is not _render_unsatisfiable_range
        ),
        create_exception_response,
    )
    response = render_error(request, exc)
    response.headers["content-range"] = f"bytes */{exc.detail['size']}"
    return response


def _inline_disposition(file_name: str) -> str:
    """Shown in the browser, saved under its own name (RFC 6266; RFC 5987 for a non-ASCII name)."""
    quoted = quote(file_name)
    return f'inline; filename="{file_name}"' if quoted == file_name else f"inline; filename*=utf-8''{quoted}"


def _accel_redirect(prefix: str, media_type: str, video_id: str, job_id: str, file_name: str) -> ASGIResponse:
    """The checks above passed; nginx sends the file itself from its internal location, with its
    own Range, ETag, Last-Modified and conditional requests. Content-Type and Cache-Control
    ride along, since nginx keeps those upstream headers across the redirect."""
    target = prefix + "/".join(quote(segment, safe="") for segment in (video_id, job_id, file_name))
    return ASGIResponse(
        headers={
            "x-accel-redirect": target,
            "content-type": media_type,
            "cache-control": _IMMUTABLE_FILE_CACHING,
        }
    )


class AssetFilesController(Controller):
    """Published job files. No bearer token: a <video src> cannot send one. The job id is
    unguessable and, with ASSET_SIGNING_KEY set, the URL must carry a valid signature."""

    path = "/assets"
    tags = ["assets"]
    exception_handlers = {RangeNotSatisfiable: _render_unsatisfiable_range}

    @route(
        "/{video_id:str}/{job_id:str}/{file_name:str}",
        http_method=[HttpMethod.GET, HttpMethod.HEAD],
        operation_id=lambda _handler, method, _path: f"{method.lower()}AssetFile",
        responses={
            **ASSET_ERRORS,
            206: ResponseSpec(
                data_container=bytes, description="The requested byte range", media_type="application/octet-stream"
            ),
            304: ResponseSpec(data_container=None, description="Not modified (If-None-Match)"),
        },
    )
    async def serve_asset_file(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        jobs: NamedDependency[JobStore],
        store: NamedDependency[AssetStore],
        video_id: FromPath[str],
        job_id: FromPath[str],
        file_name: FromPath[str],
    ) -> ASGIResponse:
        """One file of a rendered job, with byte ranges for seeking and validators for caching."""
        # The signature is checked first: it costs no I/O, and an unsigned request learns nothing.
        if settings.asset_signing_key is not None and not signature_is_valid(
            settings.asset_signing_key,
            f"{video_id}/{job_id}/{file_name}",
            request.query_params.get("expires"),
            request.query_params.get("sig"),
        ):
            raise AssetSignatureInvalid("Missing, invalid or expired asset URL signature")
        await _require_published_job(jobs, video_id, job_id)
        key = job_key(video_id, job_id)
        try:
            stored = await store.find(key, file_name)
        except StorageError as error:
            raise AssetStoreUnavailable("The asset store did not answer; try again later") from error
        if stored is None:
            raise AssetNotFound("No such asset")
        media_type = _MEDIA_TYPES.get(PurePosixPath(file_name).suffix.lower(), _UNKNOWN_MEDIA_TYPE)
        if settings.asset_accel_redirect_prefix is not None and stored.local_path is not None:
            return _accel_redirect(settings.asset_accel_redirect_prefix, media_type, video_id, job_id, file_name)
        etag = ETag(value=stored.etag).to_header()
        cache_headers = {"etag": etag, "cache-control": _IMMUTABLE_FILE_CACHING}
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and _matches_if_none_match(if_none_match, etag):
            return ASGIResponse(status_code=HTTP_304_NOT_MODIFIED, headers=cache_headers)

        last_modified = formatdate(stored.modified, usegmt=True)
        # Content-Type goes in as a header rather than a media type because Litestar drops the
        # media type from HEAD answers, which must carry the same headers as GET.
        headers = {
            **cache_headers,
            "content-type": media_type,
            "last-modified": last_modified,
            "accept-ranges": "bytes",
            "content-disposition": _inline_disposition(file_name),
        }
        is_head = request.method == HttpMethod.HEAD
        byte_range = _requested_range(request, stored.size, etag, last_modified)
        if byte_range is None and stored.local_path is not None:
            return ASGIFileResponse(
                file_path=stored.local_path,
                filename=file_name,
                headers=headers,
                # Litestar never tells a returned `File` that it answers a HEAD, so the ASGI response is
                # built here directly; otherwise a HEAD would read the whole video for the server to drop.
                is_head_response=is_head,
            )
        if byte_range is None:
            # From an object store the bytes pass through: the store's own URL is never handed out.
            return ASGIStreamingResponse(
                iterator=store.read(key, file_name, 0, stored.size),
                headers={**headers, "content-length": str(stored.size)},
                is_head_response=is_head,
            )
        return ASGIStreamingResponse(
            iterator=store.read(key, file_name, byte_range.start, byte_range.length),
            status_code=HTTP_206_PARTIAL_CONTENT,
            headers={
                **headers,
                "content-range": byte_range.content_range(stored.size),
                "content-length": str(byte_range.length),
            },
        )
