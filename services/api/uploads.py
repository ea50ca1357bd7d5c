"""Reading an upload (an image, a deck): a raw body or a multipart/form-data `file` field."""

from typing import NamedTuple

from litestar import Request

from services.api.errors import PayloadTooLarge

MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""What the multipart framing around the file may add to the body (headers, boundaries)."""
UPLOAD_FIELD = "file"
BODY_LIMIT = "body_limit"
"""The `opt` key of an upload router: its `BodyLimit`, for the 413 Litestar raises itself on a
body past the router's limit (upload limit + multipart overhead) before a handler runs."""


class BodyLimit(NamedTuple):
    max_bytes: int
    setting: str
    """The environment variable that sets it, named in the refusal."""


def too_large(size: int | None, limit: BodyLimit) -> PayloadTooLarge:
    announced = f"{size:,} bytes" if size is not None else "larger than that"
    return PayloadTooLarge(
        f"The upload is {announced}; at most {limit.max_bytes:,} are accepted ({limit.setting}).",
        bytes=size,
        max_bytes=limit.max_bytes,
    )


async def uploaded_bytes(request: Request) -> bytes:
    """The upload's bytes; its name and declared Content-Type are ignored (callers sniff the
    bytes). Over its router's `BodyLimit`: 413 naming the limit's environment variable."""
    limit: BodyLimit = request.route_handler.opt[BODY_LIMIT]
    if request.content_type[0] == "multipart/form-data":
        form = await request.form()
        upload = form.get(UPLOAD_FIELD)
        data = await upload.read() if upload is not None and hasattr(upload, "read") else b""
    else:
        data = await request.body()
    if len(data) > limit.max_bytes:
        raise too_large(len(data), limit)
    return data
