"""The job table's hottest paths without HTTP: CPU per create (JobLifecycle.create) and per job
detail (JobStore.get_with_attempts) on a SQLite file, one request after another in one process,
its database threads included. It isolates what the storage layer costs (a driver, a thread
handoff, a transaction's form) from Litestar and uvicorn, which bench/api_load.py measures with
it; the two together say where a change to the storage layer moved the API's CPU.

    .venv/bin/python -m bench.job_table [--requests 3000]
"""

import argparse
import asyncio
import resource
import tempfile
from pathlib import Path

from bench.results import Row, markdown_table
from libs.contracts.script import Scene, Script, Slide
from services.api.db.engine import open_database
from services.api.db.migrate import upgrade_to_head
from services.api.jobs.lifecycle import JobLifecycle
from services.api.jobs.store import JobStore
from services.api.scripts.store import ScriptStore

SECTION = "job_table"
SCRIPT = Script(title="Bench", scenes=[Scene(narration="안녕하세요. 벤치마크입니다.", slide=Slide(title="Bench"))])


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(folder: Path, requests: int) -> tuple[float, float]:
    """CPU seconds per create and per detail."""
    db = open_database(f"sqlite:///{folder / 'jobs.db'}")
    await upgrade_to_head(db)
    try:
        scripts = ScriptStore(db)
        for index in range(requests):
            await scripts.put(f"video-{index}", "script", SCRIPT, "bench")
            await scripts.approve(f"video-{index}", "script")
        lifecycle = JobLifecycle(db, lambda transition: None, max_attempts=3, attempt_timeout=lambda script: 60.0)
        started = _cpu_seconds()
        job_ids = [(await lifecycle.create(f"video-{index}", "script", "bench"))[0].job_id for index in range(requests)]
        per_create = (_cpu_seconds() - started) / requests
        jobs = JobStore(db)
        started = _cpu_seconds()
        for index, job_id in enumerate(job_ids):
            await jobs.get_with_attempts(f"video-{index}", job_id)
        return per_create, (_cpu_seconds() - started) / requests
    finally:
        await db.dispose()


def run(requests: int = 3000) -> list[Row]:
    with tempfile.TemporaryDirectory() as folder:
        per_create, per_detail = asyncio.run(_measure(Path(folder), requests))
    note = f"{requests} requests one after another, no HTTP; bench/api_load.py has the whole request"
    return [
        Row(SECTION, "create CPU per request (SQLite, storage layer)", per_create * 1e6, "µs", None, note),
        Row(SECTION, "detail CPU per request (SQLite, storage layer)", per_detail * 1e6, "µs", None, note),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    print(markdown_table(run(parser.parse_args().requests)))


if __name__ == "__main__":
    main()
