"""The invariants every fault test must leave intact, read straight from the job table
(research/reliability.md §6: I1–I5), on SQLite or PostgreSQL."""

import itertools
from collections import defaultdict

from sqlalchemy import text

from tests.stack import Stack

ACTIVE = ("PENDING", "RUNNING")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")
LEGAL_STEPS = {
    ("PENDING", "RUNNING"),
    ("PENDING", "CANCELED"),
    ("PENDING", "PENDING"),  # a queued job's message changes: it waits for a renderer offering its engine
    ("RUNNING", "RUNNING"),
    ("RUNNING", "PENDING"),
    ("RUNNING", "SUCCEEDED"),
    ("RUNNING", "FAILED"),
    ("RUNNING", "CANCELED"),
}


def check_invariants(stack: Stack, accepted_job_ids: set[str]) -> list[str]:
    """Every violation found, as a sentence; empty when all hold."""
    problems: list[str] = []
    with stack.job_table() as db:
        if db.dialect.name == "sqlite":
            integrity = db.execute(text("PRAGMA integrity_check")).scalar()
            if integrity != "ok":
                problems.append(f"integrity_check: {integrity}")
        for video_id, count in db.execute(
            text(
                "SELECT video_id, count(*) FROM render_jobs WHERE status IN ('PENDING', 'RUNNING') "
                "GROUP BY video_id HAVING count(*) > 1"
            )
        ):
            problems.append(f"video {video_id} has {count} active jobs")
        rows = db.execute(text("SELECT job_id, status, last_seq, attempt, max_attempts FROM render_jobs"))
        jobs = {row[0]: row[1:] for row in rows}
        problems += [f"accepted job {job_id} has no row" for job_id in sorted(accepted_job_ids - jobs.keys())]
        events: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for job_id, seq, status in db.execute(text("SELECT job_id, seq, status FROM job_events ORDER BY job_id, seq")):
            events[job_id].append((seq, status))
    for job_id, (status, last_seq, attempt, max_attempts) in jobs.items():
        stream = events.get(job_id, [])
        if [seq for seq, _ in stream] != list(range(1, last_seq + 1)):
            problems.append(f"job {job_id}: event seq is not 1..{last_seq} without gaps")
        statuses = [event_status for _, event_status in stream]
        if not statuses or statuses[0] != "PENDING":
            problems.append(f"job {job_id}: does not start PENDING")
        for before, after in itertools.pairwise(statuses):
            if (before, after) not in LEGAL_STEPS:
                problems.append(f"job {job_id}: illegal transition {before} -> {after}")
        if statuses and statuses[-1] != status:
            problems.append(f"job {job_id}: last event {statuses[-1]} but job is {status}")
        if attempt > max_attempts:
            problems.append(f"job {job_id}: {attempt} attempts > {max_attempts}")
    return problems


def tally(stack: Stack, accepted_job_ids: set[str]) -> dict[str, int]:
    """Jobs by final status, plus accepted jobs with no row (lost), videos with more than one
    active job or jobs that ended more than once (duplicated), and jobs still active."""
    with stack.job_table() as db:
        counts = dict(db.execute(text("SELECT status, count(*) FROM render_jobs GROUP BY status")).all())
        job_ids = {row[0] for row in db.execute(text("SELECT job_id FROM render_jobs"))}
        doubled = db.execute(
            text(
                "SELECT count(*) FROM (SELECT video_id FROM render_jobs WHERE status IN ('PENDING', 'RUNNING') "
                "GROUP BY video_id HAVING count(*) > 1) AS doubled_videos"
            )
        ).scalar()
        doubled += db.execute(
            text(
                "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELED') "
                "GROUP BY job_id HAVING count(*) > 1) AS doubled_ends"
            )
        ).scalar()
    return {
        **counts,
        "jobs": len(job_ids),
        "lost": len(accepted_job_ids - job_ids),
        "duplicated": doubled,
        "active_at_stop": sum(counts.get(status, 0) for status in ACTIVE),
    }


def active_jobs(stack: Stack) -> int:
    """PENDING and RUNNING jobs: 0 once the queue has drained."""
    with stack.job_table() as db:
        return db.execute(text("SELECT count(*) FROM render_jobs WHERE status IN ('PENDING', 'RUNNING')")).scalar()
