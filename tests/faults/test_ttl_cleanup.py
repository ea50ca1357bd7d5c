"""TTL cleanup on the real stack: jobs aged past RENDER_JOB_TTL_DAYS in the job table are
swept with their files while the API runs; active, recent and published jobs stay."""

import os
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Connection, select, text, update

from services.api.db.models import JobRow
from tests.client import new_video_id, start_render, wait_until
from tests.faults.jobs import approved
from tests.integration.test_render_jobs_api import SHORT_SCRIPT, wait_terminal

# No coqui model anywhere, so no worker offers coqui and a job whose voice needs it stays PENDING
# for as long as the test wants an active job: not for as long as some render happens to take.
SWEEP_EVERY_SECOND = {"env": {"RENDER_JOB_TTL_SWEEP_SEC": "1", "COQUI_MODEL_DIR": "", "COQUI_MODEL_ROOT": ""}}
AGE = timedelta(days=31)


def age(db: Connection, job_ids: list[str]) -> None:
    """Moves the jobs' creation and end `AGE` into the past (the API writes neither column again)."""
    found = db.execute(select(JobRow.job_id, JobRow.created_at, JobRow.finished_at).where(JobRow.job_id.in_(job_ids)))
    for job_id, created_at, finished_at in found.all():
        db.execute(
            update(JobRow)
            .where(JobRow.job_id == job_id)
            .values(created_at=created_at - AGE, finished_at=finished_at - AGE if finished_at else None)
        )


def job_url(video_id: str, job_id: str) -> str:
    return f"/api/v2/videos/{video_id}/render-jobs/{job_id}"


def rendered(stack, http: httpx.Client, script: dict, prefix: str, *, blank: bool = False) -> tuple[str, str]:
    """(video_id, job_id) of a new job of `script`; not recorded as accepted, since the sweep deletes jobs."""
    video_id = new_video_id(prefix)
    return video_id, start_render(http, video_id, approved(stack, http, video_id, script, blank=blank))["job_id"]


def failed(stack, http: httpx.Client, prefix: str) -> tuple[str, str]:
    """A job failed at once: the renderer finds nothing to speak (INVALID_SCRIPT)."""
    video_id, job_id = rendered(stack, http, SHORT_SCRIPT, prefix, blank=True)
    job = wait_terminal(http, video_id, job_id)
    assert job["status"] == "FAILED" and job["error_code"] == "INVALID_SCRIPT", job
    return video_id, job_id


@pytest.mark.parametrize("fault_stack", [SWEEP_EVERY_SECOND], indirect=True)
def test_expired_failed_and_canceled_jobs_are_swept_with_their_files(fault_stack, reference_script):
    assets = fault_stack.asset_dir
    with fault_stack.client(timeout=30) as http:
        published = rendered(fault_stack, http, SHORT_SCRIPT, "ttl-published")
        assert wait_terminal(http, *published)["status"] == "SUCCEEDED"
        old_failure = failed(fault_stack, http, "ttl-failed")
        recent_failure = failed(fault_stack, http, "ttl-recent")
        canceled = rendered(fault_stack, http, reference_script, "ttl-canceled")
        assert http.post(job_url(*canceled) + "/cancel").json()["status"] == "CANCELED"
        active = rendered(fault_stack, http, {**reference_script, "voice": "coqui"}, "ttl-active")
        fault_stack.accepted |= {published[1], recent_failure[1], active[1]}

        # A canceled render's attempt closes when its worker confirms; age it only after that.
        def attempt_closed() -> bool:
            with fault_stack.job_table() as db:
                return (
                    db.execute(
                        text("SELECT 1 FROM job_attempts WHERE job_id = :job_id AND finished_at IS NULL"), {"job_id": canceled[1]}
                    ).first()
                    is None
                )

        wait_until(attempt_closed, "the attempt to close")
        leftover = assets / old_failure[0] / old_failure[1]
        leftover.mkdir(parents=True)
        (leftover / "video.mp4").write_bytes(b"left behind")
        abandoned, live = assets / ".staging" / "abandoned-0000", assets / ".staging" / "live-0000"
        abandoned.mkdir(parents=True)
        live.mkdir()
        two_days_ago = time.time() - 2 * 24 * 3600
        os.utime(abandoned, (two_days_ago, two_days_ago))

        expiring = (old_failure[1], canceled[1])
        with fault_stack.job_table() as db:
            # The active job is aged too: age alone must never expire a job that has not ended.
            age(db, [*expiring, published[1], active[1]])

        def swept() -> bool:
            gone = all(http.get(job_url(*job)).status_code == 404 for job in (old_failure, canceled))
            return gone and not leftover.exists() and not abandoned.exists()

        wait_until(swept, "the TTL sweep")
        for job in (old_failure, canceled):
            assert http.get(job_url(*job)).json()["error_code"] == "JOB_NOT_FOUND"
        with fault_stack.job_table() as db:
            for table in ("job_events", "job_attempts"):
                count = db.execute(
                    text(f"SELECT count(*) FROM {table} WHERE job_id IN (:first, :second)"),
                    dict(zip(("first", "second"), expiring)),
                ).scalar()
                assert count == 0, f"{table} kept rows of swept jobs"
        assert live.is_dir(), "a young staging folder may belong to a live render"

        assert http.get(job_url(*published)).json()["status"] == "SUCCEEDED"
        assert http.get(f"/api/v2/videos/{published[0]}/assets/published").json()["job_id"] == published[1]
        assert any((assets / published[0] / published[1]).iterdir()), "the published files were touched"
        assert http.get(job_url(*recent_failure)).json()["status"] == "FAILED"
        assert http.get(job_url(*active)).json()["status"] == "PENDING"
        http.post(job_url(*active) + "/cancel")
