"""The render-progress WebSocket's messages besides the job events (SPEC §3), as Structs: what
ws.py sends, and what the OpenAPI document describes for typed clients (openapi.py)."""

import msgspec

from services.api.http_errors import ErrorBody

CONNECTED_MESSAGE = "Connected to render progress stream"


class StreamConnected(msgspec.Struct, kw_only=True, tag_field="type", tag="connected"):
    """The first message: the stream is subscribed; `job_id` is the job it follows (null: the
    video's events, no job running when it connected)."""

    video_id: str
    job_id: str | None
    message: str = CONNECTED_MESSAGE
    timestamp: str


class StreamError(ErrorBody, kw_only=True, tag_field="type", tag="error"):
    """Why the stream closes at once (the `job_id` asked for is not the video's), in SPEC §2's shape."""
