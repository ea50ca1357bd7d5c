"""Reads of the job table: what the API serves about jobs, and what the dispatcher's clock
asks of it. Every write is a transition of `jobs/lifecycle.py`."""

from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Row, func, select

from libs.contracts.bus import Outcome
from libs.contracts.codes import JobStatus
from services.api.db.engine import Database
from services.api.db.models import AttemptRow, JobEventRow, JobRow
from services.api.errors import JobNotFound
from services.api.jobs import statements as sql


class JobStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_with_attempts(self, video_id: str, job_id: str) -> tuple[Row[Any], list[Row[Any]]]:
        """The job and its attempts as Core rows. This and the two reads below are the API's
        hottest: no ORM identity map, statements built once, one trip to the database's reader."""
        found = await self._db.read(partial(_job_with_attempts, video_id, job_id))
        if found is None:
            raise JobNotFound.of(video_id, job_id)
        return found

    async def page(
        self,
        video_id: str,
        status: JobStatus | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Row[Any]], int, dict[str, list[Row[Any]]]]:
        """One page of the video's jobs, newest first, with the total and each job's attempts."""
        statuses = [status] if status is not None else list(JobStatus)
        parameters = {"video_id": video_id, "statuses": statuses, "limit": limit, "offset": offset}
        return await self._db.read(partial(_page, parameters))

    async def published(self, video_id: str) -> Row[Any] | None:
        """The video's published job: its columns and `published_at`."""
        return await self._db.read(lambda connection: connection.execute(sql.PUBLISHED_JOB, {"video_id": video_id}).first())

    async def latest_job(self, video_id: str, status: JobStatus | None = None) -> JobRow | None:
        conditions = [JobRow.video_id == video_id]
        if status is not None:
            conditions.append(JobRow.status == status)
        async with self._db.read_session() as session:
            return await session.scalar(select(JobRow).where(*conditions).order_by(JobRow.created_at.desc()).limit(1))

    async def find(self, job_id: str) -> JobRow | None:
        async with self._db.read_session() as session:
            return await session.get(JobRow, job_id)

    async def events_after(self, job_id: str, seq: int) -> list[JobEventRow]:
        async with self._db.read_session() as session:
            return list(
                await session.scalars(
                    select(JobEventRow).where(JobEventRow.job_id == job_id, JobEventRow.seq > seq).order_by(JobEventRow.seq)
                )
            )

    # --- what the dispatcher's clock looks for ---------------------------------------------

    async def running(self) -> list[JobRow]:
        async with self._db.read_session() as session:
            return list(await session.scalars(select(JobRow).where(JobRow.status == JobStatus.RUNNING)))

    async def unconfirmed_cancels(self) -> set[tuple[str, int]]:
        """(job_id, attempt) canceled by a request whose worker has not said it stopped. The
        dispatcher tells those workers, whichever API instance took the request."""
        async with self._db.read_session() as session:
            rows = await session.execute(
                select(AttemptRow.job_id, AttemptRow.attempt).where(
                    AttemptRow.outcome == Outcome.CANCELED.value, AttemptRow.finished_at.is_(None)
                )
            )
            return {(job_id, attempt) for job_id, attempt in rows}

    async def next_retry_at(self) -> datetime | None:
        async with self._db.read_session() as session:
            return await session.scalar(select(func.min(JobRow.not_before)).where(JobRow.status == JobStatus.PENDING))


def _job_with_attempts(video_id: str, job_id: str, connection: Connection) -> tuple[Row[Any], list[Row[Any]]] | None:
    job = connection.execute(sql.JOB_OF_VIDEO, {"job_id": job_id, "video_id": video_id}).first()
    if job is None:
        return None
    # A job that was never dispatched has no attempt rows to look for.
    attempts = connection.execute(sql.ATTEMPTS_OF_JOBS, {"job_ids": [job_id]}).all() if job.attempt else []
    return job, list(attempts)


def _page(parameters: dict[str, Any], connection: Connection) -> tuple[list[Row[Any]], int, dict[str, list[Row[Any]]]]:
    total = connection.execute(sql.JOB_COUNT, parameters).scalar_one()
    rows = list(connection.execute(sql.JOB_PAGE, parameters).all())
    attempts: dict[str, list[Row[Any]]] = {row.job_id: [] for row in rows}
    if any(row.attempt for row in rows):
        for attempt in connection.execute(sql.ATTEMPTS_OF_JOBS, {"job_ids": list(attempts)}):
            attempts[attempt.job_id].append(attempt)
    return rows, total, attempts
