"""What the render-job endpoints accept and return."""

from typing import Any

import msgspec

from libs.contracts.codes import ErrorCode, JobStatus, Step
from services.api.params import ResourceId


class CreateRenderJob(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    script_id: ResourceId


class AssetLinks(msgspec.Struct, kw_only=True):
    video_url: str
    subtitle_url: str
    vtt_url: str
    thumbnail_url: str
    duration_sec: float
    chapters_url: str | None = None
    """One WebVTT cue per scene; absent for videos rendered before chapters were."""
    words_url: str | None = None
    """words.json: each word's start, end, text, scene and timing; absent when the script's captions do not time words."""


class Attempt(msgspec.Struct, kw_only=True):
    attempt: int
    worker_id: str
    started_at: str
    finished_at: str | None
    """For a canceled attempt: when the worker confirmed it stopped."""
    outcome: str | None
    error_code: ErrorCode | None
    error_message: str | None


class RenderJob(msgspec.Struct, kw_only=True):
    job_id: str
    video_id: str
    script_id: str
    status: JobStatus
    step: Step | None
    progress: int
    message: str
    error_code: ErrorCode | None
    error_message: str | None
    assets: AssetLinks | None
    voice_used: str | None = None
    """The voice spec that spoke the whole video: the script's voice, or its `voice_fallback`
    when that voice could not be used. Null until the job SUCCEEDED."""
    attempt: int
    max_attempts: int
    created_by: str
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    attempts: list[Attempt] = []


class CreatedRenderJob(msgspec.Struct, kw_only=True):
    job_id: str
    status: JobStatus
    progress: int
    step: Step | None
    message: str
    created: bool


class RenderJobPage(msgspec.Struct, kw_only=True):
    video_id: str
    jobs: list[RenderJob]
    total: int
    limit: int
    offset: int


class PublishedAssets(msgspec.Struct, kw_only=True, omit_defaults=True):
    video_id: str
    published: bool
    video_url: str | None = None
    subtitle_url: str | None = None
    vtt_url: str | None = None
    thumbnail_url: str | None = None
    chapters_url: str | None = None
    words_url: str | None = None
    duration_sec: float | None = None
    published_at: str | None = None
    script_id: str | None = None
    job_id: str | None = None
    voice_used: str | None = None
    """The voice spec that spoke the published video (absent if the renderer did not say)."""


class JobEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One stored progress event, as WebSocket clients receive it (SPEC §3)."""

    type: str
    video_id: str
    job_id: str | None
    seq: int
    status: JobStatus | None
    step: Step | None
    progress: int
    message: str
    timestamp: str
    error_code: ErrorCode | None = None
    assets: AssetLinks | None = None

    def as_dict(self) -> dict[str, Any]:
        builtins: dict[str, Any] = msgspec.to_builtins(self)  # a Struct becomes a dict
        return builtins
