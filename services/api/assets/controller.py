"""GET/HEAD /assets/{video_id}/{job_id}/{file_name}: a published job file, seekable and cacheable (SPEC §2)."""

import os
import stat
from email.utils import formatdate
from pathlib import Path
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
from services.api.assets.ranges import ByteRange, if_range_allows_partial, iter_file_slice, parse_range
from services.api.assets.signing import signature_is_valid
from services.api.openapi import ASSET_ERRORS
from services.api.errors import AssetNotFound, AssetSignatureInvalid, RangeNotSatisfiable
from services.api.jobs.store import JobStore
from services.api.settings import Settings

_MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt; charset=utf-8",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}
_UNKNOWN_MEDIA_TYPE = "application/octet-stream"

# A job's folder is published once by an atomic rename and never rewritten (a new render is a
# new job id), so browsers and proxies may keep these files for as long as they like.
_IMMUTABLE_FILE_CACHING = CacheControlHeader(public=True, max_age=365 * 24 * 3600, immutable=True).to_header()


def locate_asset_file(asset_dir: Path, *segments: str) -> tuple[Path, os.stat_result]:
    """The real path and stat of a regular file inside `asset_dir`; `AssetNotFound` for anything else.

    Each segment must be one plain name. Dot-names are refused as well, because the renderer
    stages unfinished jobs under ASSET_DIR/.staging. Symlinks are resolved before the
    containment check, so a link cannot lead outside the asset root.
    """
    if not all(_is_plain_name(segment) for segment in segments):
        raise AssetNotFound("No such asset")
    root = asset_dir.resolve()
    path = root.joinpath(*segments).resolve()
    if not path.is_relative_to(root):
        raise AssetNotFound("No such asset")
    try:
        file_stat = path.stat()
    except OSError as error:
        raise AssetNotFound("No such asset") from error
    if not stat.S_ISREG(file_stat.st_mode):
        raise AssetNotFound("No such asset")
    return path, file_stat


_FORBIDDEN_IN_NAME = ("..", "/", "\\", "\0")


def _is_plain_name(segment: str) -> bool:
    return bool(segment) and not segment.startswith(".") and not any(part in segment for part in _FORBIDDEN_IN_NAME)


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


def _accel_redirect(prefix: str, path: Path, video_id: str, job_id: str, file_name: str) -> ASGIResponse:
    """The checks above passed; nginx sends the file itself from its internal location, with its
    own Range, ETag, Last-Modified and conditional requests. Content-Type and Cache-Control
    ride along, since nginx keeps those upstream headers across the redirect."""
    target = prefix + "/".join(quote(segment, safe="") for segment in (video_id, job_id, file_name))
    return ASGIResponse(headers={
        "x-accel-redirect": target,
        "content-type": _MEDIA_TYPES.get(path.suffix.lower(), _UNKNOWN_MEDIA_TYPE),
        "cache-control": _IMMUTABLE_FILE_CACHING,
    })


class AssetFilesController(Controller):
    """Published job files. No bearer token: a <video src> cannot send one. The job id is
    unguessable and, with ASSET_SIGNING_KEY set, the URL must carry a valid signature."""

    path = "/assets"
    tags = ["assets"]
    exception_handlers = {RangeNotSatisfiable: _render_unsatisfiable_range}

    @route("/{video_id:str}/{job_id:str}/{file_name:str}", http_method=[HttpMethod.GET, HttpMethod.HEAD], responses={
        **ASSET_ERRORS,
        206: ResponseSpec(data_container=bytes, description="The requested byte range", media_type="application/octet-stream"),
        304: ResponseSpec(data_container=None, description="Not modified (If-None-Match)"),
    })
    async def serve_asset_file(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        jobs: NamedDependency[JobStore],
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
        path, file_stat = locate_asset_file(settings.asset_dir, video_id, job_id, file_name)
        if settings.asset_accel_redirect_prefix is not None:
            return _accel_redirect(settings.asset_accel_redirect_prefix, path, video_id, job_id, file_name)
        etag = ETag(value=f"{file_stat.st_size:x}-{file_stat.st_mtime_ns:x}").to_header()
        cache_headers = {"etag": etag, "cache-control": _IMMUTABLE_FILE_CACHING}
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and _matches_if_none_match(if_none_match, etag):
            return ASGIResponse(status_code=HTTP_304_NOT_MODIFIED, headers=cache_headers)

        last_modified = formatdate(file_stat.st_mtime, usegmt=True)
        # Content-Type goes in as a header rather than a media type because Litestar drops the
        # media type from HEAD answers, which must carry the same headers as GET.
        headers = {
            **cache_headers,
            "content-type": _MEDIA_TYPES.get(path.suffix.lower(), _UNKNOWN_MEDIA_TYPE),
            "last-modified": last_modified,
            "accept-ranges": "bytes",
        }
        byte_range = _requested_range(request, file_stat.st_size, etag, last_modified)
        if byte_range is None:
            return ASGIFileResponse(
                file_path=path,
                filename=file_name,
                stat_result=file_stat,
                content_disposition_type="inline",
                headers=headers,
                # Litestar never tells a returned `File` that it answers a HEAD, so the ASGI response is
                # built here directly; otherwise a HEAD would read the whole video for the server to drop.
                is_head_response=request.method == HttpMethod.HEAD,
            )
        return ASGIStreamingResponse(
            iterator=iter_file_slice(path, byte_range),
            status_code=HTTP_206_PARTIAL_CONTENT,
            headers={
                **headers,
                "content-range": byte_range.content_range(file_stat.st_size),
                "content-length": str(byte_range.length),
            },
        )
