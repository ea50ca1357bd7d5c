"""Render-job endpoints (SPEC §2, from the phase document)."""

from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from libs.contracts.codes import JobStatus, Step
from services.api.auth.roles import Role, requires
from services.api.dispatch.role import DispatcherRole
from services.api.examples import RenderJobBody
from services.api.jobs.lifecycle import JobLifecycle
from services.api.jobs.reads import JobReads
from services.api.jobs.schemas import CreatedRenderJob, PublishedAssets, RenderJob, RenderJobPage
from services.api.jobs.views import job_view
from services.api.openapi import READ_ERRORS, WRITE_ERRORS
from services.api.params import JobId, Limit, Offset, VideoId
from services.api.settings import Settings


class RenderJobController(Controller):
    path = "/videos/{video_id:str}"
    tags = ["render-jobs"]
    guards = [requires(Role.VIEWER)]

    @post(
        "/render-jobs",
        operation_id="createRenderJob",
        status_code=HTTP_202_ACCEPTED,
        guards=[requires(Role.EDITOR)],
        responses={**WRITE_ERRORS, HTTP_200_OK: ResponseSpec(CreatedRenderJob, description="The video's active job")},
    )
    async def create_render_job(
        self,
        lifecycle: JobLifecycle,
        dispatcher: DispatcherRole,
        subject: str,
        video_id: VideoId,
        data: RenderJobBody,
    ) -> Response[CreatedRenderJob]:
        """Start rendering an approved script: 202 with a new job, or 200 with the video's
        PENDING/RUNNING job (one active job per video, enforced by the database)."""
        job, created = await lifecycle.create(video_id, data.script_id, subject)
        if created:
            dispatcher.request_dispatch()
        message = "New job created and started" if created else f"Existing {job.status} job returned"
        body = CreatedRenderJob(
            job_id=job.job_id,
            status=job.status,
            progress=job.progress,
            step=Step(job.step) if job.step is not None else None,
            message=message,
            created=created,
        )
        return Response(body, status_code=HTTP_202_ACCEPTED if created else HTTP_200_OK)

    @get("/render-jobs", operation_id="listRenderJobs", responses=READ_ERRORS)
    async def list_render_jobs(
        self,
        reads: JobReads,
        video_id: VideoId,
        status: JobStatus | None = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> RenderJobPage:
        """The video's jobs, newest first, optionally of one status."""
        return await reads.page(video_id, status, limit, offset)

    @get("/render-jobs/{job_id:str}", operation_id="getRenderJob", responses=READ_ERRORS)
    async def get_render_job(self, reads: JobReads, video_id: VideoId, job_id: JobId) -> RenderJob:
        """One job with its attempts; `assets` is present once it SUCCEEDED."""
        return await reads.detail(video_id, job_id)

    @post(
        "/render-jobs/{job_id:str}/cancel",
        operation_id="cancelRenderJob",
        status_code=HTTP_200_OK,
        guards=[requires(Role.EDITOR)],
        responses=WRITE_ERRORS,
    )
    async def cancel_render_job(
        self, lifecycle: JobLifecycle, dispatcher: DispatcherRole, settings: Settings, video_id: VideoId, job_id: JobId
    ) -> RenderJob:
        """Cancel a PENDING or RUNNING job; a RUNNING render is told to stop at once."""
        job, worker_id = await lifecycle.cancel(video_id, job_id)
        if worker_id is not None:
            dispatcher.cancel(worker_id, job_id, job.attempt)
        return job_view(job, settings)

    @get("/assets/published", operation_id="getPublishedAssets", responses=READ_ERRORS)
    async def get_published_assets(self, reads: JobReads, video_id: VideoId) -> PublishedAssets:
        """The asset set of the newest successful render, or `published: false`."""
        return await reads.published(video_id)
