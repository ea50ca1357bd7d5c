"""Turns job rows and stored events into the Structs the API and WebSocket send."""

from typing import Any

from libs.contracts.bus import RenderedAssets
from services.api.assets.signing import signed_query
from services.api.db.models import AttemptRow, JobEventRow, JobRow
from services.api.jobs.schemas import AssetLinks, Attempt, JobEvent, RenderJob
from services.api.settings import Settings
from services.api.timestamps import iso_utc


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
    )


def attempt_view(row: AttemptRow) -> Attempt:
    return Attempt(
        attempt=row.attempt, worker_id=row.worker_id, started_at=iso_utc(row.started_at),
        finished_at=iso_utc(row.finished_at), outcome=row.outcome, error_code=row.error_code,
        error_message=row.error_message,
    )


def job_view(row: JobRow, settings: Settings, attempts: list[AttemptRow] = ()) -> RenderJob:
    return RenderJob(
        job_id=row.job_id,
        video_id=row.video_id,
        script_id=row.script_id,
        status=row.status,
        step=row.step,
        progress=row.progress,
        message=row.message,
        error_code=row.error_code,
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
    return JobEvent(
        type="progress",
        video_id=row.video_id,
        job_id=row.job_id,
        seq=row.seq,
        status=row.status,
        step=row.step,
        progress=row.progress,
        message=row.message,
        timestamp=iso_utc(row.created_at),
        error_code=row.error_code,
        assets=asset_links(settings, row.video_id, row.job_id, row.assets),
    )


def snapshot_view(row: JobRow, settings: Settings) -> JobEvent:
    return JobEvent(
        type="snapshot",
        video_id=row.video_id,
        job_id=row.job_id,
        seq=row.last_seq,
        status=row.status,
        step=row.step,
        progress=row.progress,
        message=row.message,
        timestamp=iso_utc(row.updated_at),
        error_code=row.error_code,
        assets=asset_links(settings, row.video_id, row.job_id, row.assets),
    )
