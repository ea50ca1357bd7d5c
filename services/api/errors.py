"""Domain errors raised by services; one handler maps them to SPEC §2's error shape."""

from typing import Any

from libs.contracts.codes import ErrorCode


class ApplicationError(Exception):
    status_code = 500
    error_code = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFoundError(ApplicationError):
    status_code = 404


class ConflictError(ApplicationError):
    status_code = 409


class ForbiddenError(ApplicationError):
    status_code = 403
    error_code = ErrorCode.FORBIDDEN


class AssetSignatureInvalid(ForbiddenError):
    """An asset URL without a valid, unexpired signature while ASSET_SIGNING_KEY is set."""


class ScriptNotFound(NotFoundError):
    error_code = ErrorCode.SCRIPT_NOT_FOUND

    @classmethod
    def of(cls, video_id: str, script_id: str) -> "ScriptNotFound":
        return cls(f"Script {script_id!r} of video {video_id!r} does not exist.", video_id=video_id, script_id=script_id)


class JobNotFound(NotFoundError):
    error_code = ErrorCode.JOB_NOT_FOUND

    @classmethod
    def of(cls, video_id: str, job_id: str) -> "JobNotFound":
        return cls(f"Job {job_id!r} of video {video_id!r} does not exist.", video_id=video_id, job_id=job_id)


class AssetNotFound(NotFoundError):
    error_code = ErrorCode.ASSET_NOT_FOUND


class ScriptNotApproved(ConflictError):
    error_code = ErrorCode.SCRIPT_NOT_APPROVED


class ScriptImmutable(ConflictError):
    error_code = ErrorCode.SCRIPT_IMMUTABLE


class JobNotCancelable(ConflictError):
    error_code = ErrorCode.JOB_NOT_CANCELABLE


class RangeNotSatisfiable(ApplicationError):
    status_code = 416
    error_code = ErrorCode.RANGE_NOT_SATISFIABLE


class AssetStoreUnavailable(ApplicationError):
    """The asset store did not answer (ASSET_STORE): try again later."""

    status_code = 503
    error_code = ErrorCode.STORAGE_FAILED


class MediaNotFound(NotFoundError):
    error_code = ErrorCode.MEDIA_NOT_FOUND


class ThemeNotFound(NotFoundError):
    error_code = ErrorCode.THEME_NOT_FOUND


class MediaRefused(ApplicationError):
    """An upload that will not be stored; `detail` names the problem."""

    status_code = 422
    error_code = ErrorCode.MEDIA_INVALID


class UnsupportedMediaType(MediaRefused):
    status_code = 415
    error_code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class MediaTooLarge(MediaRefused):
    error_code = ErrorCode.MEDIA_TOO_LARGE


class MediaInvalid(MediaRefused):
    pass


class DeckImportNotFound(NotFoundError):
    error_code = ErrorCode.DECK_IMPORT_NOT_FOUND


class DeckConverterMissing(MediaRefused):
    error_code = ErrorCode.DECK_CONVERTER_MISSING


class NarrationMissing(ApplicationError):
    status_code = 422
    error_code = ErrorCode.NARRATION_MISSING


class PayloadTooLarge(ApplicationError):
    status_code = 413
    error_code = ErrorCode.PAYLOAD_TOO_LARGE


class VoiceUnavailable(ApplicationError):
    """No connected renderer worker offers the voice's engine, or none can be reached now."""

    status_code = 503
    error_code = ErrorCode.VOICE_UNAVAILABLE


class PreviewTimedOut(ApplicationError):
    status_code = 504
    error_code = ErrorCode.TIMEOUT


class PreviewFailed(ApplicationError):
    """The engine could not speak the preview; the message is the engine's."""

    status_code = 502
    error_code = ErrorCode.TTS_FAILED


class ScenePreviewFailed(ApplicationError):
    """The renderer could not render the scene: `error_code` is its own (TTS_FAILED with the engine's
    message, RENDER_FAILED, STORAGE_FAILED, …), as a render job of the scene would have failed."""

    status_code = 502

    def __init__(self, error_code: ErrorCode, message: str, **detail: Any) -> None:
        super().__init__(message, **detail)
        self.error_code = error_code


class PreviewsBusy(ApplicationError):
    """The renderer's preview lane is full; asking again in a moment works."""

    status_code = 429
    error_code = ErrorCode.RATE_LIMITED


class InvalidField(ApplicationError):
    """A body field that passed the schema but not a rule only the service can check: a 422
    naming it, in the shape the schema's own 422s have."""

    status_code = 422
    error_code = ErrorCode.VALIDATION_ERROR

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}", errors=[{"field": field, "message": problem, "source": "body"}])
