"""TTL cleanup (SPEC §4): FAILED and CANCELED jobs past `RENDER_JOB_TTL_DAYS` go, with their
rows, events, attempts and files; so do uploaded media (images, fonts, audio) that old which
no script of their video names (as a slide's image or as its music) and no theme names (in any
video: a theme may name media of any), and staging that a killed renderer left behind (a local
staging folder, or an upload no manifest names).

Only ended, unpublished failures are eligible: PENDING/RUNNING and SUCCEEDED jobs are never
selected, and a job that `published_assets` points at is skipped whatever its status.
"""

import asyncio
import logging
from datetime import timedelta

import msgspec
from sqlalchemy import delete, exists, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.contracts.codes import ACTIVE_STATUSES, JobStatus
from libs.storage import AssetStore, job_key, media_key
from services.api.db.engine import Database
from services.api.db.models import DeckImportRow, JobRow, JobThemeRow, MediaRow, PublishedRow, ScriptRow, ThemeRow, utc_now
from services.api.scripts.store import decode_script, named_media
from services.api.settings import Settings
from services.api.themes.snapshot import decode_job_theme

log = logging.getLogger(__name__)

STAGING_MAX_AGE = timedelta(days=1)
"""No live render runs this long, so an older staging entry belongs to a worker that died."""
EXPIRING_STATUSES = (JobStatus.FAILED.value, JobStatus.CANCELED.value)


async def expire_jobs(db: Database, store: AssetStore, ttl: timedelta) -> list[tuple[str, str]]:
    """Deletes the expired jobs and then their files; returns their (video_id, job_id)."""
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
    # A crash in between leaves the files behind: only rows lead the next sweep to files.
    await store.delete([job_key(video_id, job_id) for video_id, job_id in expired])
    return expired


async def expire_media(db: Database, store: AssetStore, ttl: timedelta) -> list[tuple[str, str]]:
    """Deletes media older than `ttl` that no script of their video and no theme names, then
    their files; returns their (video_id, media_id)."""
    cutoff = utc_now() - ttl
    async with db.write_session() as session, session.begin():
        # Locked first: a script or theme saved meanwhile naming one of them (scripts/store.py
        # and themes/store.py read them FOR KEY SHARE) waits for this transaction, and then
        # finds the media gone.
        old = (
            await session.execute(
                select(MediaRow.video_id, MediaRow.media_id).where(MediaRow.created_at < cutoff).with_for_update()
            )
        ).all()
        if not old:
            return []
        named: set[tuple[str, str]] = set()
        for script in await session.scalars(select(ScriptRow).where(ScriptRow.video_id.in_({video_id for video_id, _ in old}))):
            named |= {(script.video_id, media.media_id) for media in named_media(decode_script(script))}
        themed = await _themed_media(session)
        expired = [
            (video_id, media_id) for video_id, media_id in old if (video_id, media_id) not in named and media_id not in themed
        ]
        if expired:
            await session.execute(
                delete(MediaRow)
                .where(tuple_(MediaRow.video_id, MediaRow.media_id).in_(expired))
                .execution_options(synchronize_session=False)
            )
    await store.delete([media_key(video_id, media_id) for video_id, media_id in expired])
    return expired


async def _themed_media(session: AsyncSession) -> set[str]:
    """The ids of the media a theme names, or the theme a job not yet ended was created with (a
    theme replaced since may no longer name them): kept in every video that holds them."""
    named: set[str | None] = set()
    for font, logo in await session.execute(select(ThemeRow.font, ThemeRow.logo)):
        named |= {font, logo}
    waiting = select(JobThemeRow.assets).join(JobRow, JobRow.job_id == JobThemeRow.job_id)
    for assets in await session.scalars(waiting.where(JobRow.status.in_(ACTIVE_STATUSES))):
        if (snapshot := decode_job_theme(assets)) is not None:
            named |= {snapshot.theme.font, snapshot.theme.logo}
    return {media_id for media_id in named if media_id is not None}


async def expire_deck_imports(db: Database, ttl: timedelta) -> list[str]:
    """Deletes deck imports untouched for `ttl` (their scripts and pages live on as any other);
    returns their `{video_id}/{import_id}`."""
    cutoff = utc_now() - ttl
    async with db.write_session() as session, session.begin():
        expired = (
            await session.execute(
                delete(DeckImportRow)
                .where(DeckImportRow.updated_at < cutoff)
                .returning(DeckImportRow.video_id, DeckImportRow.import_id)
            )
        ).all()
    return [f"{video_id}/{import_id}" for video_id, import_id in expired]


class SweepReport(msgspec.Struct, kw_only=True):
    removed_jobs: list[str]
    """`{video_id}/{job_id}` of every job deleted with its files."""
    removed_media: list[str]
    """`{video_id}/{media_id}` of every media (image, font, audio) deleted with its file."""
    removed_staging: list[str]
    removed_deck_imports: list[str]
    """`{video_id}/{import_id}` of every deck import row deleted (its script and pages stay)."""


async def sweep(db: Database, settings: Settings, store: AssetStore) -> SweepReport:
    """Every cleanup once: expired jobs with their files, unnamed old media, old deck imports, then stale staging."""
    ttl = timedelta(days=settings.job_ttl_days)
    expired = await expire_jobs(db, store, ttl)
    media = await expire_media(db, store, ttl)
    imports = await expire_deck_imports(db, ttl)
    stale = await store.sweep_staging(STAGING_MAX_AGE)
    if expired or media or stale or imports:
        log.info(
            "TTL sweep removed %d jobs %s, %d media %s, %d deck imports %s and %d staging entries %s",
            len(expired),
            expired,
            len(media),
            media,
            len(imports),
            imports,
            len(stale),
            stale,
        )
    return SweepReport(
        removed_jobs=[job_key(video_id, job_id) for video_id, job_id in expired],
        removed_media=[media_key(video_id, media_id) for video_id, media_id in media],
        removed_staging=stale,
        removed_deck_imports=imports,
    )


async def sweep_periodically(db: Database, settings: Settings, store: AssetStore) -> None:
    """Sweeps every `job_ttl_sweep_sec` until cancelled; a failed sweep is logged and retried."""
    while True:
        try:
            await sweep(db, settings, store)
        except Exception:
            log.exception("TTL sweep failed; trying again in %s s", settings.job_ttl_sweep_sec)
        await asyncio.sleep(settings.job_ttl_sweep_sec)
