"""The job table's hot statements, built once: SQLAlchemy then skips building and keying them
on every request (the create and the job detail are the API's busiest paths)."""

from sqlalchemy import Insert, ScalarSelect, bindparam, func, insert, select
from sqlalchemy.orm import InstrumentedAttribute

from libs.contracts.codes import JobStatus
from services.api.db.inserts import insert_into, table_of
from services.api.db.models import (
    ACTIVE_JOB,
    AttemptRow,
    JobEventRow,
    JobLexiconRow,
    JobRow,
    JobThemeRow,
    MediaRow,
    PublishedRow,
    ScriptRow,
    ThemeRow,
    VideoLexiconRow,
)

_JOBS, _ATTEMPTS, _PUBLISHED = JobRow.__table__, AttemptRow.__table__, PublishedRow.__table__

ACTIVE_JOB_OF_VIDEO = select(_JOBS).where(
    _JOBS.c.video_id == bindparam("video_id"), _JOBS.c.status.in_((JobStatus.PENDING, JobStatus.RUNNING))
)
JOB_OF_VIDEO = select(_JOBS).where(_JOBS.c.job_id == bindparam("job_id"), _JOBS.c.video_id == bindparam("video_id"))
ATTEMPTS_OF_JOBS = (
    select(_ATTEMPTS)
    .where(_ATTEMPTS.c.job_id.in_(bindparam("job_ids", expanding=True)))
    .order_by(_ATTEMPTS.c.job_id, _ATTEMPTS.c.attempt)
)
_VIDEO_JOBS = (_JOBS.c.video_id == bindparam("video_id"), _JOBS.c.status.in_(bindparam("statuses", expanding=True)))
JOB_COUNT = select(func.count()).select_from(_JOBS).where(*_VIDEO_JOBS)
JOB_PAGE = (
    select(_JOBS)
    .where(*_VIDEO_JOBS)
    .order_by(_JOBS.c.created_at.desc(), _JOBS.c.job_id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
SCRIPT_TO_RENDER = (
    select(ScriptRow.status, ScriptRow.body, VideoLexiconRow.entries.label("video_lexicon"))
    .outerjoin(VideoLexiconRow, VideoLexiconRow.video_id == ScriptRow.video_id)
    .where(ScriptRow.video_id == bindparam("video_id"), ScriptRow.script_id == bindparam("script_id"))
)
"""The script and, in the same read, its video's lexicon (None without one)."""


def _video_holding(media_id: InstrumentedAttribute[str | None]) -> ScalarSelect[str | None]:
    """A video that holds the media, None if none does: the first by id, though any would do
    (a media id is the same bytes in every video)."""
    return select(func.min(MediaRow.video_id)).where(MediaRow.media_id == media_id).scalar_subquery()


THEME_TO_RENDER = select(
    ThemeRow.body, _video_holding(ThemeRow.font).label("font_video"), _video_holding(ThemeRow.logo).label("logo_video")
).where(ThemeRow.theme_id == bindparam("theme_id"))
"""The script's theme and the videos holding its font and logo, in one read (themes/snapshot.py)."""
JOB_SNAPSHOT = (
    select(JobLexiconRow.entries, JobThemeRow.assets)
    .select_from(_JOBS)
    .outerjoin(JobLexiconRow, JobLexiconRow.job_id == _JOBS.c.job_id)
    .outerjoin(JobThemeRow, JobThemeRow.job_id == _JOBS.c.job_id)
    .where(_JOBS.c.job_id == bindparam("job_id"))
)
"""What a job keeps from its creation, in one read: its lexicon and its theme (None without)."""
INSERT_JOB_LEXICON = insert(table_of(JobLexiconRow))
INSERT_JOB_THEME = insert(table_of(JobThemeRow))
PUBLISHED_JOB = (
    select(_JOBS, _PUBLISHED.c.published_at)
    .join(_PUBLISHED, _PUBLISHED.c.job_id == _JOBS.c.job_id)
    .where(_PUBLISHED.c.video_id == bindparam("video_id"))
)
INSERT_EVENT = insert(table_of(JobEventRow))

INSERT_UNLESS_ACTIVE: dict[str, Insert] = {
    dialect: insert_into(dialect, _JOBS)
    .on_conflict_do_nothing(index_elements=["video_id"], index_where=ACTIVE_JOB)
    .returning(_JOBS.c.job_id)
    for dialect in ("sqlite", "postgresql")
}
"""INSERT of a new job that does nothing (and returns no id) when its video already has an
active job: the index decides, inside the statement, so no failed INSERT ends the transaction
(it would on PostgreSQL) and two instances cannot both insert."""
