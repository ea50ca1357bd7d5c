"""Videos have no table of their own: a video exists once it has a script, so its summary is
an aggregate of its scripts plus its newest job and whether it is published."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select

from services.api.db.engine import Database
from services.api.db.models import JobRow, PublishedRow, ScriptRow
from services.api.scripts.schemas import ScriptStatus


@dataclass(frozen=True)
class VideoActivity:
    video_id: str
    script_count: int
    approved_script_count: int
    updated_at: datetime
    latest_job: JobRow | None
    published: bool


async def page_of_videos(db: Database, limit: int, offset: int) -> tuple[list[VideoActivity], int]:
    """Videos with at least one script, the most recently edited first."""
    newest_job_id = (
        select(JobRow.job_id)
        .where(JobRow.video_id == ScriptRow.video_id)
        .order_by(JobRow.created_at.desc(), JobRow.job_id.desc())
        .limit(1)
        .correlate(ScriptRow)
        .scalar_subquery()
    )
    updated_at = func.max(ScriptRow.updated_at)
    async with db.read_session() as session:
        total = await session.scalar(select(func.count(distinct(ScriptRow.video_id))))
        rows = (
            await session.execute(
                select(
                    ScriptRow.video_id,
                    func.count(),
                    func.count().filter(ScriptRow.status == ScriptStatus.APPROVED.value),
                    updated_at,
                    newest_job_id,
                )
                .group_by(ScriptRow.video_id)
                .order_by(updated_at.desc(), ScriptRow.video_id)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        job_ids = [row[4] for row in rows if row[4] is not None]
        jobs = {job.job_id: job for job in await session.scalars(select(JobRow).where(JobRow.job_id.in_(job_ids)))}
        published = set(
            await session.scalars(select(PublishedRow.video_id).where(PublishedRow.video_id.in_([row[0] for row in rows])))
        )
    videos = [
        VideoActivity(
            video_id=video_id,
            script_count=script_count,
            approved_script_count=approved,
            updated_at=changed,
            latest_job=jobs.get(job_id),
            published=video_id in published,
        )
        for video_id, script_count, approved, changed, job_id in rows
    ]
    return videos, total or 0
