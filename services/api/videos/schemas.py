"""What the video listing returns."""

import msgspec

from libs.contracts.codes import JobStatus, Step


class LatestJob(msgspec.Struct, kw_only=True):
    job_id: str
    status: JobStatus
    step: Step | None
    progress: int
    created_at: str


class VideoSummary(msgspec.Struct, kw_only=True):
    video_id: str
    script_count: int
    approved_script_count: int
    updated_at: str
    """When one of the video's scripts last changed."""
    latest_job: LatestJob | None
    """The video's newest render job, whatever its status; null before the first render."""
    published: bool
    """Whether the video has a published asset set."""


class VideoPage(msgspec.Struct, kw_only=True):
    videos: list[VideoSummary]
    total: int
    limit: int
    offset: int
