"""TTL cleanup (SPEC §4): FAILED and CANCELED jobs past `RENDER_JOB_TTL_DAYS` go, with their
rows, events, attempts and files; so do staging folders that a killed renderer left behind.

Only ended, unpublished failures are eligible: PENDING/RUNNING and SUCCEEDED jobs are never
selected, and a job that `published_assets` points at is skipped whatever its status.
"""

import asyncio
import logging
import shutil
import time
from datetime import timedelta
from pathlib import Path

import msgspec
from sqlalchemy import delete, exists

from libs.contracts.codes import JobStatus
from services.api.db.engine import Database
from services.api.db.models import JobRow, PublishedRow, utc_now
from services.api.settings import Settings

log = logging.getLogger(__name__)

STAGING_FOLDER = ".staging"
"""Where the renderer writes unfinished jobs (services/renderer/publish.py)."""
STAGING_MAX_AGE = timedelta(days=1)
"""No live render runs this long, so an older staging entry belongs to a worker that died."""
EXPIRING_STATUSES = (JobStatus.FAILED.value, JobStatus.CANCELED.value)


async def expire_jobs(db: Database, asset_dir: Path, ttl: timedelta) -> list[tuple[str, str]]:
    """Deletes the expired jobs and then their asset folders; returns their (video_id, job_id)."""
    cutoff = utc_now() - ttl
    async with db.write_session() as session, session.begin():
        # job_events and job_attempts go with the row through their ON DELETE CASCADE keys.
        result = await session.execute(
            delete(JobRow)
            .where(
                JobRow.status.in_(EXPIRING_STATUSES),
                JobRow.finished_at < cutoff,
                ~exists().where(PublishedRow.job_id == JobRow.job_id),
            )
            .returning(JobRow.video_id, JobRow.job_id)
            .execution_options(synchronize_session=False)
        )
        expired = [(video_id, job_id) for video_id, job_id in result]
    # After the commit, so slow deletes never hold the one write lock every writer waits on.
    # A crash in between leaves the folders behind: only rows lead the next sweep to files.
    await asyncio.to_thread(remove_job_folders, asset_dir, expired)
    return expired


def remove_stale_staging(asset_dir: Path, max_age: timedelta = STAGING_MAX_AGE) -> list[str]:
    """Removes entries of ASSET_DIR/.staging last modified more than `max_age` ago; returns their names."""
    staging = asset_dir / STAGING_FOLDER
    if not staging.is_dir():
        return []
    cutoff = time.time() - max_age.total_seconds()
    removed = []
    for entry in staging.iterdir():
        try:
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except FileNotFoundError:
            continue  # its worker finished or discarded it meanwhile
        except OSError as error:
            log.warning("cannot remove staging entry %s: %s", entry, error)
            continue
        removed.append(entry.name)
    return removed


class SweepReport(msgspec.Struct, kw_only=True):
    removed_jobs: list[str]
    """`{video_id}/{job_id}` of every job deleted with its files."""
    removed_staging: list[str]


async def sweep(db: Database, settings: Settings) -> SweepReport:
    """Both cleanups once: expired jobs with their files, then stale staging folders."""
    expired = await expire_jobs(db, settings.asset_dir, timedelta(days=settings.job_ttl_days))
    stale = await asyncio.to_thread(remove_stale_staging, settings.asset_dir)
    if expired or stale:
        log.info("TTL sweep removed %d jobs %s and %d staging entries %s", len(expired), expired, len(stale), stale)
    return SweepReport(removed_jobs=[f"{video_id}/{job_id}" for video_id, job_id in expired], removed_staging=stale)


async def sweep_periodically(db: Database, settings: Settings) -> None:
    """Sweeps every `job_ttl_sweep_sec` until cancelled; a failed sweep is logged and retried."""
    while True:
        try:
            await sweep(db, settings)
        except Exception:
            log.exception("TTL sweep failed; trying again in %s s", settings.job_ttl_sweep_sec)
        await asyncio.sleep(settings.job_ttl_sweep_sec)


def remove_job_folders(asset_dir: Path, jobs: list[tuple[str, str]]) -> None:
    """Deletes these jobs' asset folders (blocking: run it on a thread)."""
    root = asset_dir.resolve()
    for video_id, job_id in jobs:
        folder = root / video_id / job_id
        # Ids come from the database; still, delete nothing but a job folder strictly inside the root.
        if not (_is_plain_name(video_id) and _is_plain_name(job_id) and folder.resolve().is_relative_to(root)):
            log.warning("not removing %s: not a job folder inside %s", folder, root)
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _is_plain_name(name: str) -> bool:
    """One folder name that is not ".", "..", ".staging" or any other dot-name."""
    return bool(name) and not name.startswith(".") and "/" not in name and "\0" not in name
