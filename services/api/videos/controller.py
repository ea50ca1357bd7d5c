"""`GET /api/v2/videos`: the videos that have scripts, for a frontend's first screen."""

from litestar import Controller, get

from libs.contracts.codes import Step
from services.api.auth.roles import Role, requires
from services.api.db.engine import Database
from services.api.openapi import READ_ERRORS
from services.api.params import Limit, Offset
from services.api.timestamps import iso_utc
from services.api.videos.schemas import LatestJob, VideoPage, VideoSummary
from services.api.videos.store import VideoActivity, page_of_videos


class VideoController(Controller):
    path = "/videos"
    tags = ["videos"]
    guards = [requires(Role.VIEWER)]

    @get("/", operation_id="listVideos", responses=READ_ERRORS)
    async def list_videos(self, db: Database, limit: Limit = 20, offset: Offset = 0) -> VideoPage:
        """Videos with at least one script, the most recently edited first, each with its script
        counts, its newest render job and whether it has published assets."""
        videos, total = await page_of_videos(db, limit, offset)
        return VideoPage(videos=[video_summary(video) for video in videos], total=total, limit=limit, offset=offset)


def video_summary(video: VideoActivity) -> VideoSummary:
    job = video.latest_job
    return VideoSummary(
        video_id=video.video_id,
        script_count=video.script_count,
        approved_script_count=video.approved_script_count,
        updated_at=iso_utc(video.updated_at),
        published=video.published,
        latest_job=None
        if job is None
        else LatestJob(
            job_id=job.job_id,
            status=job.status,
            step=None if job.step is None else Step(job.step),
            progress=job.progress,
            created_at=iso_utc(job.created_at),
        ),
    )
