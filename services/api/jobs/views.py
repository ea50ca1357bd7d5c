"""Turns job rows and stored events into the Structs the API and WebSocket send."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from libs.contracts.bus import RenderedAssets
from libs.contracts.codes import ErrorCode, JobStatus, Step
from services.api.assets.signing import signed_query
from services.api.db.models import JobEventRow, JobRow
from services.api.jobs.schemas import AssetLinks, Attempt, JobEvent, RenderJob
from services.api.settings import Settings
from services.api.timestamps import iso_utc


class JobColumns(Protocol):
    """A render_jobs row as `job_view` reads it: the ORM's JobRow, or a Core Row of the same
    table (the detail and list endpoints read Core rows, for speed). Read-only properties, so
    both the mapped attributes and a Row's columns satisfy it."""

    @property
    def job_id(self) -> str: ...
    @property
    def video_id(self) -> str: ...
    @property
    def script_id(self) -> str: ...
    @property
    def status(self) -> JobStatus: ...
    @property
    def step(self) -> str | None: ...
    @property
    def progress(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...
    @property
    def assets(self) -> dict[str, Any] | None: ...
    @property
    def voice_used(self) -> str | None: ...
    @property
    def attempt(self) -> int: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def created_by(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def started_at(self) -> datetime | None: ...
    @property
    def finished_at(self) -> datetime | None: ...


class AttemptColumns(Protocol):
    """A job_attempts row: the ORM's AttemptRow, or a Core Row of that table."""

    @property
    def attempt(self) -> int: ...
    @property
    def worker_id(self) -> str: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def finished_at(self) -> datetime | None: ...
    @property
    def outcome(self) -> str | None: ...
    @property
    def error_code(self) -> str | None: ...
    @property
    def error_message(self) -> str | None: ...


def _step(stored: str | None) -> Step | None:
    """A stored step column as the Step it names (encoded to the same JSON string)."""
    return Step(stored) if stored is not None else None


def _error_code(stored: str | None) -> ErrorCode | None:
    """A stored error_code column as the ErrorCode it names (encoded to the same JSON string)."""
    return ErrorCode(stored) if stored is not None else None


def asset_links(settings: Settings, video_id: str, job_id: str, rendered: dict[str, Any] | None) -> AssetLinks | None:
    if rendered is None:
        return None
    files = RenderedAssets(**rendered)

    def url(file_name: str) -> str:
        asset_path = f"{video_id}/{job_id}/{file_name}"
        link = f"{settings.public_base_url}/assets/{asset_path}"
        if settings.asset_signing_key is None:
            return link
        return f"{link}?{signed_query(settings.asset_signing_key, settings.asset_url_ttl_sec, asset_path)}"

    return AssetLinks(
        video_url=url(files.video),
        subtitle_url=url(files.srt),
        vtt_url=url(files.vtt),
        thumbnail_url=url(files.thumbnail),
        duration_sec=files.duration_sec,
        chapters_url=url(files.chapters) if files.chapters else None,
        words_url=url(files.words) if files.words else None,
    )


def attempt_view(row: AttemptColumns) -> Attempt:
    return Attempt(
        attempt=row.attempt,
        worker_id=row.worker_id,
        started_at=iso_utc(row.started_at),
        finished_at=iso_utc(row.finished_at),
        outcome=row.outcome,
        error_code=_error_code(row.error_code),
        error_message=row.error_message,
    )


def job_view(row: JobColumns, settings: Settings, attempts: Sequence[AttemptColumns] = ()) -> RenderJob:
    return RenderJob(
        job_id=row.job_id,
        video_id=row.video_id,
        script_id=row.script_id,
        status=row.status,
        step=_step(row.step),
        progress=row.progress,
        message=row.message,
        error_code=_error_code(row.error_code),
        error_message=row.error_message,
        assets=asset_links(settings, row.video_id, row.job_id, row.assets),
        voice_used=row.voice_used,
        attempt=row.attempt,
        max_attempts=row.max_attempts,
        created_by=row.created_by,
        created_at=iso_utc(row.created_at),
        updated_at=iso_utc(row.updated_at),
        started_at=iso_utc(row.started_at),
        finished_at=iso_utc(row.finished_at),
        attempts=[attempt_view(attempt) for attempt in attempts],
    )


def event_view(row: JobEventRow, settings: Settings) -> JobEvent:
    return _job_event("progress", row, row.seq, row.created_at, settings)


def snapshot_view(row: JobRow, settings: Settings) -> JobEvent:
    """The job as it stands, shaped as its events are: with its last event's seq, stamped when it last changed."""
    return _job_event("snapshot", row, row.last_seq, row.updated_at, settings)


def _job_event(event_type: str, row: JobRow | JobEventRow, seq: int, at: datetime, settings: Settings) -> JobEvent:
    return JobEvent(
        type=event_type,
        video_id=row.video_id,
        job_id=row.job_id,
        seq=seq,
        status=row.status,
        step=_step(row.step),
        progress=row.progress,
        message=row.message,
        timestamp=iso_utc(at),
        error_code=_error_code(row.error_code),
        assets=asset_links(settings, row.video_id, row.job_id, row.assets),
    )
