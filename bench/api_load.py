"""API under load, driven by Locust (headless, FastHttpUser) against the real API process:

- create: concurrent users each POST a render job for a video nobody else uses, so every
  request is a real create (202); the videos' approved scripts are inserted in bulk first.
  No renderer is connected, so the jobs stay PENDING and nothing else competes for the API;
- detail: the same users GET those jobs.

Each user is its own token subject, like real users; the per-subject write limit is raised
for the run so it never answers 429 (its cost still counts).

    .venv/bin/python -m bench.api_load [--users 100] [--seconds 20] [--processes 1] [--profile DIR]
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
from sqlalchemy import create_engine, insert, select

from bench import hotspots
from bench.cpu import CpuMeter
from bench.results import Row, Target, markdown_table
from libs.contracts.script import Scene, Script, Slide
from services.api.auth.roles import Role
from services.api.db.models import JobRow, ScriptRow, utc_now
from services.api.scripts.schemas import ScriptStatus
from tests.stack import Stack

USERS_FILE = Path(__file__).with_name("api_users.py")
CREATES_PER_SEC_CEILING = 4_000
"""Scripts approved up front per second of the create run; a faster API runs out and says so."""
DETAIL_JOBS = 10_000
SCRIPT = Script(title="Bench", scenes=[Scene(narration="안녕하세요. 벤치마크입니다.", slide=Slide(title="Bench"))])

CREATE_P99_MS, CREATE_RPS, DETAIL_RPS = 50, 1_000, 3_000
SECTION = "api"
GENERATOR_SATURATED = 0.9
"""Cores per locust process beyond which the load generator is the bottleneck."""


@dataclass(frozen=True)
class LoadResult:
    scenario: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p99_ms: float
    api_cpu: float
    """The API process's CPU, in cores (1.0 = one core busy all the time)."""
    generator_cpu: float
    """Locust's CPU, in cores, over all its processes."""
    api_cpu_ms: float
    """API CPU time per request: less sensitive than req/s to other load on the machine."""
    exhausted: bool = False
    """Create ran out of pre-approved videos before the time was up."""


@dataclass(frozen=True)
class ApiLoadResult:
    users: int
    processes: int
    create: LoadResult
    detail: LoadResult
    profiles: dict[str, hotspots.Hotspots]

    def rows(self) -> list[Row]:
        setup = f"{self.users} users, locust in {self.processes} process(es)"
        rows = []
        for load, rps_target in ((self.create, Target(">=", CREATE_RPS)), (self.detail, Target(">=", DETAIL_RPS))):
            name = f"{load.scenario} ({setup})" if load is self.create else load.scenario
            cpu = f"CPU: API {load.api_cpu:.2f} cores ({load.api_cpu_ms:.1f} ms/request), locust {load.generator_cpu:.2f} cores"
            if load.generator_cpu >= GENERATOR_SATURATED * self.processes:
                cpu += " (locust saturated: it, not the API, set the rate)"
            rows += [
                Row(SECTION, f"{name} throughput", load.rps, "req/s", rps_target, cpu),
                Row(SECTION, f"{load.scenario} p50", load.p50_ms, "ms"),
                Row(SECTION, f"{load.scenario} p99", load.p99_ms, "ms", Target("<=", CREATE_P99_MS) if load is self.create else None),
                Row(SECTION, f"{load.scenario} failed requests", load.failures, "", Target("<=", 0),
                    f"of {load.requests:,}" + ("; ran out of pre-approved videos" if load.exhausted else "")),
            ]
        return rows


def run_api_load(users: int = 100, seconds: int = 20, processes: int = 1, profile_dir: Path | None = None) -> ApiLoadResult:
    """Both scenarios against one fresh API; with `profile_dir`, py-spy samples the API during
    each (its collapsed stacks are kept there) and the summaries come back in `profiles`."""
    with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        work = Path(folder)
        stack = Stack(data_dir=work, workers=0, extra_env={"RATE_LIMIT_WRITES_PER_MINUTE": str(10**9), "LOG_LEVEL": "WARNING"})
        stack.start_api()
        try:
            stack.wait_alive()
            database = f"sqlite:///{stack.data_dir / 'render_jobs.db'}"
            tokens = work / "tokens.json"
            tokens.write_text(json.dumps([stack.token(Role.EDITOR, f"bench-user-{n}") for n in range(users)]))
            videos = work / "videos.json"
            videos.write_text(json.dumps(approve_scripts(database, seconds * CREATES_PER_SEC_CEILING)))
            run = dict(stack=stack, tokens=tokens, users=users, seconds=seconds, processes=processes, profile_dir=profile_dir)
            create, create_profile = _locust(scenario="create", targets=videos, **run)
            jobs = work / "jobs.json"
            jobs.write_text(json.dumps(existing_jobs(database, DETAIL_JOBS)))
            detail, detail_profile = _locust(scenario="detail", targets=jobs, **run)
        finally:
            stack.stop()
    profiles = {name: found for name, found in (("create", create_profile), ("detail", detail_profile)) if found}
    return ApiLoadResult(users=users, processes=processes, create=create, detail=detail, profiles=profiles)


def approve_scripts(database: str, count: int) -> list[list[str]]:
    """Inserts `count` approved scripts, one per new video, in one transaction; returns
    [video_id, script_id] pairs. As the API's own writes would leave them, at a fraction of the time."""
    now = utc_now()
    body = msgspec.json.encode(SCRIPT)
    rows = [
        dict(video_id=f"bench-video-{n}", script_id="script-1", status=ScriptStatus.APPROVED.value, body=body,
             created_by="bench", created_at=now, updated_at=now, approved_at=now)
        for n in range(count)
    ]
    engine = create_engine(database)
    with engine.begin() as connection:
        connection.execute(insert(ScriptRow), rows)
    engine.dispose()
    return [[row["video_id"], row["script_id"]] for row in rows]


def existing_jobs(database: str, limit: int) -> list[list[str]]:
    engine = create_engine(database)
    with engine.connect() as connection:
        found = connection.execute(select(JobRow.video_id, JobRow.job_id).limit(limit)).all()
    engine.dispose()
    if not found:
        raise RuntimeError("the create run left no jobs to read")
    return [list(row) for row in found]


def _locust(*, stack: Stack, scenario: str, targets: Path, tokens: Path, users: int, seconds: int, processes: int,
            profile_dir: Path | None) -> tuple[LoadResult, hotspots.Hotspots | None]:
    prefix = targets.with_name(scenario)
    command = [sys.executable, "-m", "locust", "-f", str(USERS_FILE), "--headless", "--only-summary",
               "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "2",
               "--host", stack.base_url, "--csv", str(prefix), "--loglevel", "WARNING"]
    if processes > 1:
        command += ["--processes", str(processes)]
    env = {**os.environ, "BENCH_SCENARIO": scenario, "BENCH_TOKENS": str(tokens), "BENCH_TARGETS": str(targets)}
    sampler = None
    with CpuMeter(stack.api.pid) as api_cpu:
        started = time.monotonic()
        locust = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with CpuMeter(locust.pid) as generator_cpu:
            if profile_dir is not None:
                # Past the ramp-up, and done before the users stop.
                time.sleep(2)
                sampler = hotspots.record(stack.api.pid, seconds - 4, profile_dir / f"{scenario}.collapsed")
            output, _ = locust.communicate()
        wall = time.monotonic() - started
    if locust.returncode not in (0, 1):  # 1: some requests failed, which the result reports
        raise RuntimeError(f"locust exited with {locust.returncode}:\n{output}")
    profile = None
    if sampler is not None:
        _, errors = sampler.communicate()
        if sampler.returncode != 0:
            raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')}")
        profile = hotspots.summarize(profile_dir / f"{scenario}.collapsed")
    with Path(f"{prefix}_stats.csv").open(newline="") as file:
        row = next(row for row in csv.DictReader(file) if row["Name"] == "Aggregated")
    requests = int(row["Request Count"])
    result = LoadResult(
        scenario=scenario, requests=requests, failures=int(row["Failure Count"]),
        rps=float(row["Requests/s"]), p50_ms=float(row["50%"]), p99_ms=float(row["99%"]),
        api_cpu=api_cpu.busy_seconds / wall, generator_cpu=generator_cpu.busy_seconds / wall,
        api_cpu_ms=1000 * api_cpu.busy_seconds / max(1, requests),
        exhausted=scenario == "create" and requests >= len(json.loads(targets.read_text())),
    )
    return result, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--processes", type=int, default=1, help="locust worker processes (1: no master)")
    parser.add_argument("--profile", type=Path, default=None, help="sample the API with py-spy; stacks go here")
    args = parser.parse_args()
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    result = run_api_load(args.users, args.seconds, args.processes, args.profile)
    print(markdown_table(result.rows()))
    for scenario, found in result.profiles.items():
        print(f"\nAPI profile under {scenario}:\n{found.format()}")


def rows() -> list[Row]:
    """The section of `python -m bench`: both scenarios with the defaults."""
    return run_api_load().rows()


if __name__ == "__main__":
    main()
