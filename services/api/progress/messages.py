"""The render-progress WebSocket's messages besides the job events (SPEC §3), as Structs: what
ws.py sends, and what the OpenAPI document describes for typed clients (openapi.py)."""

from typing import Any

import msgspec

CONNECTED_MESSAGE = "Connected to render progress stream"


class StreamConnected(msgspec.Struct, kw_only=True, tag_field="type", tag="connected"):
    """The first message: the stream is subscribed; `job_id` is the job it follows (null: the
    video's events, no job running when it connected)."""

    video_id: str
    job_id: str | None
    message: str = CONNECTED_MESSAGE
    timestamp: str


class StreamError(msgspec.Struct, kw_only=True, tag_field="type", tag="error"):
    """Why the stream closes at once (the `job_id` asked for is not the video's), in SPEC §2's shape."""

    error_code: str
    message: str
    detail: dict[str, Any]
