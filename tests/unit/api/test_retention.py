"""TTL cleanup on a real SQLite file: which jobs expire, what goes with them, what stays."""

import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from libs.storage.local import LocalFolderStore
from services.api.db.models import AttemptRow, JobEventRow, JobRow, PublishedRow, utc_now
from services.api.ops.retention import expire_jobs

pytestmark = pytest.mark.anyio
TTL = timedelta(days=30)


def job(job_id: str, status: str, age_days: float | None, video_id: str = "v") -> JobRow:
    """A job created and (unless `age_days` is None) finished `age_days` ago."""
    at = utc_now() - timedelta(days=age_days or 0)
    return JobRow(
        job_id=job_id,
        video_id=video_id,
        script_id="s",
        status=status,
        max_attempts=3,
        attempt=1,
        created_by="t",
        created_at=at,
        updated_at=at,
        finished_at=at if age_days is not None else None,
    )


async def test_only_old_unpublished_failures_expire_with_their_rows_and_files(db, tmp_path):
    asset_dir = tmp_path / "assets"
    old = 31
    rows = [
        job("failed-old", "FAILED", old),
        job("canceled-old", "CANCELED", old),
        job("failed-new", "FAILED", 1),
        job("succeeded-old", "SUCCEEDED", old),
        job("published-old", "CANCELED", old),
        job("running-old", "RUNNING", None),
        job("pending-old", "PENDING", None, "v2"),
    ]
    async with db.write_session() as session, session.begin():
        session.add_all(rows)
        await session.flush()
        for row in rows:
            session.add(
                JobEventRow(
                    job_id=row.job_id,
                    seq=1,
                    video_id=row.video_id,
                    status="PENDING",
                    progress=0,
                    message="",
                    created_at=row.created_at,
                )
            )
            session.add(AttemptRow(job_id=row.job_id, attempt=1, worker_id="w", started_at=row.created_at))
        # Not a state the store produces, but the published job must survive whatever its status.
        session.add(PublishedRow(video_id="v", job_id="published-old", published_at=utc_now()))
    for row in rows:
        (asset_dir / row.video_id / row.job_id).mkdir(parents=True)

    expired = await expire_jobs(db, LocalFolderStore(asset_dir), TTL)

    assert sorted(expired) == [("v", "canceled-old"), ("v", "failed-old")]
    async with db.read_session() as session:
        left = set(await session.scalars(select(JobRow.job_id)))
        for table in (JobEventRow, AttemptRow):
            orphans = await session.scalar(select(func.count()).select_from(table).where(table.job_id.not_in(left)))
            assert orphans == 0, f"{table.__tablename__} kept rows of deleted jobs"
    assert left == {row.job_id for row in rows} - {"failed-old", "canceled-old"}
    assert sorted(path.name for path in (asset_dir / "v").iterdir()) == sorted(left - {"pending-old"})
    assert await expire_jobs(db, LocalFolderStore(asset_dir), TTL) == [], "a second sweep finds nothing"


async def test_ids_that_are_not_plain_names_never_remove_folders(db, tmp_path):
    asset_dir = tmp_path / "assets"
    async with db.write_session() as session, session.begin():
        session.add_all([job("..", "FAILED", 31, video_id="v"), job("j", "FAILED", 31, video_id=".staging")])
    (asset_dir / "v").mkdir(parents=True)
    (asset_dir / ".staging" / "j").mkdir(parents=True)

    assert len(await expire_jobs(db, LocalFolderStore(asset_dir), TTL)) == 2
    assert (asset_dir / "v").is_dir() and (asset_dir / ".staging" / "j").is_dir()


async def test_only_old_staging_entries_are_removed(tmp_path):
    staging = tmp_path / ".staging"
    (staging / "abandoned" / "work").mkdir(parents=True)
    (staging / "abandoned" / "work" / "frame.png").write_bytes(b"x")
    (staging / "live").mkdir()
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(staging / "abandoned", (two_days_ago, two_days_ago))

    assert await LocalFolderStore(tmp_path).sweep_staging(timedelta(days=1)) == ["abandoned"]
    assert [path.name for path in staging.iterdir()] == ["live"]
    assert await LocalFolderStore(tmp_path / "missing").sweep_staging(timedelta(days=1)) == []
