"""Enumerations shared by the API and the renderer: job states, pipeline steps, error codes."""

from enum import Enum, StrEnum


class JobStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


ACTIVE_STATUSES = frozenset({JobStatus.PENDING, JobStatus.RUNNING})
TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})


class Step(str, Enum):
    """Pipeline steps in timeline order (SPEC §2)."""

    VALIDATE_SCRIPT = "VALIDATE_SCRIPT"
    GENERATE_TTS = "GENERATE_TTS"
    RENDER_SLIDES = "RENDER_SLIDES"
    COMPOSE_VIDEO = "COMPOSE_VIDEO"
    GENERATE_SUBTITLES = "GENERATE_SUBTITLES"
    GENERATE_THUMBNAIL = "GENERATE_THUMBNAIL"
    PUBLISH_ASSETS = "PUBLISH_ASSETS"


class ErrorCode(str, Enum):
    # Request errors (HTTP).
    VALIDATION_ERROR = "VALIDATION_ERROR"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    SCRIPT_NOT_FOUND = "SCRIPT_NOT_FOUND"
    SCRIPT_NOT_APPROVED = "SCRIPT_NOT_APPROVED"
    SCRIPT_IMMUTABLE = "SCRIPT_IMMUTABLE"
    JOB_NOT_FOUND = "JOB_NOT_FOUND"
    JOB_NOT_CANCELABLE = "JOB_NOT_CANCELABLE"
    ASSET_NOT_FOUND = "ASSET_NOT_FOUND"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    MEDIA_NOT_FOUND = "MEDIA_NOT_FOUND"
    THEME_NOT_FOUND = "THEME_NOT_FOUND"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    """415: the bytes are not one of the allowed formats, whatever the name or Content-Type say."""
    MEDIA_TOO_LARGE = "MEDIA_TOO_LARGE"
    """422: more pixels or a longer side than MEDIA_MAX_PIXELS / MEDIA_MAX_SIDE_PX (known from the header),
    audio longer than MEDIA_MAX_AUDIO_SEC (claimed or decoded), or a font with more tables than any font has."""
    MEDIA_INVALID = "MEDIA_INVALID"
    """422: an allowed format that cannot be decoded whole (truncated, corrupt), an animated image, audio
    outside the accepted sample rates or channels, or a font missing the tables every font needs."""
    DECK_IMPORT_NOT_FOUND = "DECK_IMPORT_NOT_FOUND"
    DECK_CONVERTER_MISSING = "DECK_CONVERTER_MISSING"
    """422: a PPTX deck needs LibreOffice (soffice), which this API host does not have."""
    NARRATION_MISSING = "NARRATION_MISSING"
    """422: approval refused while a scene has nothing to speak (a deck page without speaker notes)."""
    VOICE_UNAVAILABLE = "VOICE_UNAVAILABLE"
    """503: no connected renderer offers the voice's engine (or this API instance does not dispatch)."""
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    # Job failures (stored on the job).
    TTS_FAILED = "TTS_FAILED"
    RENDER_FAILED = "RENDER_FAILED"
    STORAGE_FAILED = "STORAGE_FAILED"
    WORKER_LOST = "WORKER_LOST"
    TIMEOUT = "TIMEOUT"
    INVALID_SCRIPT = "INVALID_SCRIPT"
