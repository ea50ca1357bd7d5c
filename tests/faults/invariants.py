"""The invariants every fault test must leave intact, read straight from the SQLite file
(research/reliability.md §6: I1–I5)."""

import sqlite3
from collections import defaultdict
from pathlib import Path

ACTIVE = ("PENDING", "RUNNING")
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")
LEGAL_STEPS = {
    ("PENDING", "RUNNING"), ("PENDING", "CANCELED"),
    ("RUNNING", "RUNNING"), ("RUNNING", "PENDING"),
    ("RUNNING", "SUCCEEDED"), ("RUNNING", "FAILED"), ("RUNNING", "CANCELED"),
}


def check_invariants(db_path: Path, accepted_job_ids: set[str]) -> list[str]:
    """Every violation found, as a sentence; empty when all hold."""
    problems: list[str] = []
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        if integrity != "ok":
            problems.append(f"integrity_check: {integrity}")
        for video_id, count in db.execute(
            "SELECT video_id, count(*) FROM render_jobs WHERE status IN ('PENDING', 'RUNNING') GROUP BY video_id HAVING count(*) > 1"
        ):
            problems.append(f"video {video_id} has {count} active jobs")
        jobs = {row[0]: row[1:] for row in db.execute("SELECT job_id, status, last_seq, attempt, max_attempts FROM render_jobs")}
        problems += [f"accepted job {job_id} has no row" for job_id in sorted(accepted_job_ids - jobs.keys())]
        events: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for job_id, seq, status in db.execute("SELECT job_id, seq, status FROM job_events ORDER BY job_id, seq"):
            events[job_id].append((seq, status))
    for job_id, (status, last_seq, attempt, max_attempts) in jobs.items():
        stream = events.get(job_id, [])
        if [seq for seq, _ in stream] != list(range(1, last_seq + 1)):
            problems.append(f"job {job_id}: event seq is not 1..{last_seq} without gaps")
        statuses = [event_status for _, event_status in stream]
        if not statuses or statuses[0] != "PENDING":
            problems.append(f"job {job_id}: does not start PENDING")
        for before, after in zip(statuses, statuses[1:]):
            if (before, after) not in LEGAL_STEPS:
                problems.append(f"job {job_id}: illegal transition {before} -> {after}")
        if statuses and statuses[-1] != status:
            problems.append(f"job {job_id}: last event {statuses[-1]} but job is {status}")
        if attempt > max_attempts:
            problems.append(f"job {job_id}: {attempt} attempts > {max_attempts}")
    return problems


def tally(db_path: Path, accepted_job_ids: set[str]) -> dict[str, int]:
    """Jobs by final status, plus accepted jobs with no row (lost), videos with more than one
    active job or jobs that ended more than once (duplicated), and jobs still active."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        counts = dict(db.execute("SELECT status, count(*) FROM render_jobs GROUP BY status").fetchall())
        job_ids = {row[0] for row in db.execute("SELECT job_id FROM render_jobs")}
        doubled = db.execute(
            "SELECT count(*) FROM (SELECT video_id FROM render_jobs WHERE status IN ('PENDING', 'RUNNING') "
            "GROUP BY video_id HAVING count(*) > 1)"
        ).fetchone()[0]
        doubled += db.execute(
            "SELECT count(*) FROM (SELECT job_id FROM job_events WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELED') "
            "GROUP BY job_id HAVING count(*) > 1)"
        ).fetchone()[0]
    return {
        **counts,
        "jobs": len(job_ids),
        "lost": len(accepted_job_ids - job_ids),
        "duplicated": doubled,
        "active_at_stop": sum(counts.get(status, 0) for status in ACTIVE),
    }
