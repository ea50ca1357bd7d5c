"""What the job-state service's progress writes cost: `JobLifecycle.record_progress` on its own, in this
process, on a migrated SQLite file, with bursts shaped like the fan-out bench's (every RUNNING
job reports a few events per burst). CPU time of this process, so the figure holds on a busy
machine where wall times do not.
"""

import asyncio
import tempfile
import time
from pathlib import Path

from libs.contracts.bus import Progress
from libs.contracts.codes import Step
from libs.contracts.script import Scene, Script
from services.api.db.engine import open_database
from services.api.db.migrate import upgrade_to_head
from services.api.db.models import JobRow
from services.api.jobs.lifecycle import JobLifecycle
from services.api.scripts.store import ScriptStore

BURSTS = 200


async def cpu_per_event(jobs: int, events_per_job: int) -> float:
    """Seconds of CPU per stored event, over `BURSTS` bursts of `events_per_job` events of each of `jobs` jobs."""
    with tempfile.TemporaryDirectory(prefix="bench-progress-store-") as folder:
        db = open_database(f"sqlite:///{Path(folder) / 'jobs.db'}")
        try:
            await upgrade_to_head(db)
            store = JobLifecycle(db, lambda transition: None, max_attempts=3, attempt_timeout=lambda script: 3600.0)
            running = [await _running_job(db, store, f"bench-store-{n}") for n in range(jobs)]
            seq, stored = 0, 0
            started = time.process_time()
            for _ in range(BURSTS):
                burst = []
                for _ in range(events_per_job):
                    seq += 1
                    burst += [
                        Progress(
                            job_id=job.job_id,
                            video_id=job.video_id,
                            attempt=job.attempt,
                            seq=seq,
                            step=Step.COMPOSE_VIDEO,
                            progress=min(99, seq // 10),
                            ts=time.time(),
                        )
                        for job in running
                    ]
                stale = await store.record_progress(burst)
                stored += len(burst) - stale
            return (time.process_time() - started) / stored
        finally:
            await db.dispose()


async def _running_job(db, store: JobLifecycle, video_id: str) -> JobRow:
    scripts = ScriptStore(db)
    await scripts.put(video_id, "s", Script(title="t", scenes=[Scene(narration="안녕하세요.")]), "bench")
    await scripts.approve(video_id, "s")
    await store.create(video_id, "s", "bench")
    claimed = await store.claim(f"worker-{video_id}", {"espeak"})
    assert claimed is not None
    return claimed.job


def measure(jobs: int, events_per_job: int) -> float:
    return asyncio.run(cpu_per_event(jobs, events_per_job))
