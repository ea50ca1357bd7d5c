"""What the API answers about jobs: the store's rows as views, their asset links included.

One object for the reads, so that each of their handlers has a single dependency: Litestar
resolves two or more dependencies of a handler concurrently, in an anyio task group made per
request (litestar-org/litestar#4563), which cost the job detail a sixth of its CPU
(`python -m bench.api_load --stores sqlite`: 1.07 ms per request with two, 0.88 ms with one)."""

import msgspec

from libs.contracts.codes import JobStatus
from services.api.jobs.schemas import PublishedAssets, RenderJob, RenderJobPage
from services.api.jobs.store import JobStore
from services.api.jobs.views import asset_links, job_view
from services.api.settings import Settings
from services.api.timestamps import iso_utc


class JobReads:
    def __init__(self, jobs: JobStore, settings: Settings) -> None:
        self._jobs = jobs
        self._settings = settings

    async def detail(self, video_id: str, job_id: str) -> RenderJob:
        job, attempts = await self._jobs.get_with_attempts(video_id, job_id)
        return job_view(job, self._settings, attempts)

    async def page(self, video_id: str, status: JobStatus | None, limit: int, offset: int) -> RenderJobPage:
        rows, total, attempts = await self._jobs.page(video_id, status, limit, offset)
        views = [job_view(row, self._settings, attempts[row.job_id]) for row in rows]
        return RenderJobPage(video_id=video_id, jobs=views, total=total, limit=limit, offset=offset)

    async def published(self, video_id: str) -> PublishedAssets:
        job = await self._jobs.published(video_id)
        links = asset_links(self._settings, video_id, job.job_id, job.assets) if job is not None else None
        if job is None or links is None:
            # A published job SUCCEEDED with its assets; one without them has none to name.
            return PublishedAssets(video_id=video_id, published=False)
        return PublishedAssets(
            video_id=video_id,
            published=True,
            **msgspec.structs.asdict(links),
            published_at=iso_utc(job.published_at),
            script_id=job.script_id,
            job_id=job.job_id,
            voice_used=job.voice_used,
        )
