"""The API under load from wrk (bench/wrk.py), on each job store: SQLite with one instance,
PostgreSQL with one and with two instances sharing the job table.

Scenarios, each against the real API process with no renderer connected (jobs stay PENDING,
so nothing else competes for the API):
- create: POST a render job, each for a video nobody else uses, so every request is a real
  create (202); the videos' approved scripts are inserted in bulk first;
- detail: GET one job (the jobs the creates made);
- list: GET a video's job page;
- published: GET a video's published assets (jobs marked SUCCEEDED and published in bulk).

For each, wrk runs at 1, 2, 4, … 32 connections per instance; the throughput row is the best
level whose p99 is within 50 ms, and the CPU row the API's CPU per request at the busiest
level, where the API is saturated and per-request cost is what limits it, read from /proc
(user + system time of the API processes over the run). Per-request CPU is the figure that
holds on a busy machine; throughput needs an idle one.

    .venv/bin/python -m bench.api_load [--seconds 5] [--stores sqlite,postgresql,postgresql-x2] [--profile DIR]
"""

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
from sqlalchemy import Engine, create_engine, insert, select, update

from bench import hotspots, wrk
from bench.results import Row, Target, markdown_table
from bench.stores import job_table_url, not_run_on_postgresql, stores_here, sync_url
from libs.contracts.bus import RenderedAssets
from libs.contracts.codes import JobStatus
from libs.contracts.script import Scene, Script, Slide
from services.api.auth.roles import Role
from services.api.db.models import JobRow, PublishedRow, ScriptRow, utc_now
from services.api.scripts.schemas import ScriptStatus
from tests.stack import Stack

SECTION = "api"
SCRIPT = Script(title="Bench", scenes=[Scene(narration="안녕하세요. 벤치마크입니다.", slide=Slide(title="Bench"))])
CONNECTION_LEVELS = (1, 2, 4, 8, 16, 32)
P99_MS = 50.0
CREATES_PER_SEC_CEILING = 3_000
"""Scripts approved up front per second of each create level; a faster API runs out and says so."""
READ_TARGETS = 10_000
"""Jobs (and videos) the read scenarios cycle through."""
PUBLISHED = 1_000
USERS = 1_000
"""Token subjects the requests take turns with, as many users would: each subject's write
history (the rate limiter keeps one per subject, and re-reads it on every write) stays as short
as real users' (tens a minute at 600 creates/s), with the limit raised so none is refused."""
SCENARIOS = ("create", "detail", "list", "published")
RPS_TARGETS = {"create": 600, "detail": 1_000}
"""Requests per second within P99_MS on one instance (issue 16)."""
CPU_MS_TARGETS = {"create": 1.5, "detail": 1.0}
"""API CPU milliseconds per request, on any store."""
SETUPS = {"sqlite": ("SQLite", 1), "postgresql": ("PostgreSQL", 1), "postgresql-x2": ("PostgreSQL", 2)}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Level:
    connections: int
    """Per instance."""
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    failures: int
    api_cpu_ms: float
    """API CPU per request, over all instances."""
    api_cores: float


@dataclass(frozen=True)
class Sweep:
    scenario: str
    levels: list[Level]
    profile: hotspots.Hotspots | None = None

    @property
    def best(self) -> Level | None:
        within = [level for level in self.levels if level.p99_ms <= P99_MS]
        return max(within, key=lambda level: level.rps, default=None)

    @property
    def busiest(self) -> Level:
        return max(self.levels, key=lambda level: level.rps)


@dataclass(frozen=True)
class SetupResult:
    store: str
    instances: int
    sweeps: list[Sweep]

    @property
    def name(self) -> str:
        return f"{self.store}, {self.instances} instance{'s' if self.instances > 1 else ''}"

    def rows(self) -> list[Row]:
        rows = []
        for sweep in self.sweeps:
            best, busiest = sweep.best, sweep.busiest
            shown = best or sweep.levels[0]
            tried = ", ".join(f"{level.connections}: {level.rps:,.0f} req/s p99 {level.p99_ms:.0f} ms" for level in sweep.levels)
            rps_target = RPS_TARGETS.get(sweep.scenario) if self.instances == 1 else None
            cpu_target = CPU_MS_TARGETS.get(sweep.scenario)
            rows += [
                Row(
                    SECTION,
                    f"{sweep.scenario} throughput at p99 <= {P99_MS:g} ms ({self.name})",
                    best.rps if best else 0.0,
                    "req/s",
                    Target(">=", rps_target) if rps_target else None,
                    f"connections per instance: {tried}",
                ),
                Row(
                    SECTION,
                    f"{sweep.scenario} p99 at that throughput ({self.name})",
                    shown.p99_ms,
                    "ms",
                    None,
                    f"p50 {shown.p50_ms:.1f} ms, {shown.connections} connection(s) per instance",
                ),
                Row(
                    SECTION,
                    f"{sweep.scenario} API CPU per request ({self.name})",
                    busiest.api_cpu_ms,
                    "ms",
                    Target("<=", cpu_target) if cpu_target else None,
                    f"at the busiest level: {busiest.connections} connection(s) per instance, {busiest.rps:,.0f} req/s, "
                    f"API {busiest.api_cores:.2f} cores",
                ),
                Row(
                    SECTION,
                    f"{sweep.scenario} failed requests ({self.name})",
                    sum(level.failures for level in sweep.levels),
                    "",
                    Target("<=", 0),
                    f"of {sum(level.requests for level in sweep.levels):,}",
                ),
            ]
            if sweep.profile is not None:
                top = "; ".join(f"{name} {share:.0f} %" for name, share in sweep.profile.by_library[:5])
                rows.append(
                    Row(SECTION, f"{sweep.scenario} API profile ({self.name})", f"{sweep.profile.samples} samples", "", None, top)
                )
        return rows


def run_setup(setup: str, seconds: float, profile_dir: Path | None = None) -> SetupResult:
    store, instances = SETUPS[setup]
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as cleanup:
        work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        database_url = cleanup.enter_context(job_table_url(store))
        stacks = cleanup.enter_context(_instances(work, instances, database_url))
        database = create_engine(sync_url(stacks[0]))
        cleanup.callback(database.dispose)
        tokens = tuple(stacks[0].token(Role.EDITOR, f"bench-user-{n}") for n in range(USERS))
        seeded = len(approve_scripts(database, int(seconds * CREATES_PER_SEC_CEILING * len(CONNECTION_LEVELS))))
        sweeps = [_sweep_creates(stacks, tokens, seeded, seconds, profile_dir)]
        jobs = existing_jobs(database, READ_TARGETS)
        publish(database, jobs[:PUBLISHED])
        reads = {
            "detail": [f"/api/v2/videos/{video}/render-jobs/{job}" for video, job in jobs],
            "list": [f"/api/v2/videos/{video}/render-jobs" for video, _ in jobs],
            "published": [f"/api/v2/videos/{video}/assets/published" for video, _ in jobs[:PUBLISHED]],
        }
        for scenario, paths in reads.items():
            requests = [wrk.Requests("GET", tokens, paths=tuple(paths))] * instances
            # _sweep calls the lambda before the loop moves on.
            sweeps.append(_sweep(scenario, stacks, lambda _level: requests, seconds, profile_dir))  # noqa: B023
    return SetupResult(store=store, instances=instances, sweeps=sweeps)


def _sweep_creates(stacks: list[Stack], tokens: tuple[str, ...], seeded: int, seconds: float, profile_dir: Path | None) -> Sweep:
    """Each level, and each instance, creates jobs for videos no other one has touched:
    instance i of n takes the videos first + i, first + i + n, …"""
    instances = len(stacks)
    first = 0
    body = msgspec.json.encode({"script_id": "script-1"}).decode()

    def requests(level: Level | None) -> list[wrk.Requests]:
        nonlocal first
        if level is not None:
            # Past every video the last level may have used, counting answers cut off by its end.
            first += level.requests + instances * (level.connections + 1)
        if first >= seeded:
            raise RuntimeError(f"all {seeded:,} approved videos used: raise CREATES_PER_SEC_CEILING")
        return [
            wrk.Requests(
                "POST", tokens, numbered="/api/v2/videos/bench-video-%d/render-jobs", first=first + i, step=instances, body=body
            )
            for i in range(instances)
        ]

    return _sweep("create", stacks, requests, seconds, profile_dir)


def _sweep(scenario: str, stacks: list[Stack], requests_after, seconds: float, profile_dir: Path | None) -> Sweep:
    """`requests_after(previous level or None)`: what each instance's wrk sends at the next level."""
    pids = [stack.api.pid for stack in stacks]
    levels: list[Level] = []
    for connections in CONNECTION_LEVELS:
        levels.append(_level(stacks, pids, requests_after(levels[-1] if levels else None), connections, seconds))
    profile = None
    if profile_dir is not None:
        # Sampled at the busiest level, after the sweep: py-spy costs the API CPU.
        connections = Sweep(scenario, levels).busiest.connections
        sampler = hotspots.record(pids[0], seconds, profile_dir / f"{scenario}.collapsed")
        _level(stacks, pids, requests_after(levels[-1]), connections, seconds)
        hotspots.finish(sampler)
        profile = hotspots.summarize(profile_dir / f"{scenario}.collapsed")
    return Sweep(scenario, levels, profile)


def _level(stacks: list[Stack], pids: list[int], requests: list[wrk.Requests], connections: int, seconds: float) -> Level:
    before = _cpu_seconds(pids)
    runs = [wrk.start(stack.base_url, each, connections, seconds) for stack, each in zip(stacks, requests, strict=True)]
    results = [run.finish() for run in runs]
    used = _cpu_seconds(pids) - before
    total = sum(result.requests for result in results)
    wall = max(result.seconds for result in results)
    return Level(
        connections=connections,
        requests=total,
        rps=sum(result.rps for result in results),
        # The slower instance's p99 bounds what a client of the pair sees.
        p50_ms=max(result.p50_ms for result in results),
        p99_ms=max(result.p99_ms for result in results),
        failures=sum(result.failures for result in results),
        api_cpu_ms=1000 * used / max(1, total),
        api_cores=used / wall,
    )


def _cpu_seconds(pids: list[int]) -> float:
    """User + system time of the processes, all their threads, from /proc/PID/stat."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return total / CLOCK_TICKS


@contextmanager
def _instances(work: Path, count: int, database_url: str | None) -> Iterator[list[Stack]]:
    """`count` API instances on one job table, each with its own port and bus endpoints."""
    env = {"RATE_LIMIT_WRITES_PER_MINUTE": str(10**6), "LOG_LEVEL": "WARNING"}
    first = Stack(data_dir=work / "instance-0", workers=0, extra_env=env, database_url=database_url, capture_logs=True)
    stacks = [first] + [
        Stack(
            data_dir=work / f"instance-{n}",
            workers=0,
            extra_env=env,
            database_url=database_url,
            secret=first.secret,
            capture_logs=True,
        )
        for n in range(1, count)
    ]
    try:
        for stack in stacks:
            stack.data_dir.mkdir()
            stack.start_api()
            # One at a time: the first runs the migrations the others then find done.
            stack.wait_alive()
        yield stacks
    finally:
        for stack in stacks:
            stack.stop()


def approve_scripts(database: Engine | str, count: int) -> list[list[str]]:
    """Inserts `count` approved scripts, one per new video `bench-video-N` (script `script-1`),
    in one transaction, as the API's own writes would leave them, at a fraction of the time;
    returns their [video_id, script_id] pairs."""
    engine = create_engine(database) if isinstance(database, str) else database
    now = utc_now()
    body = msgspec.json.encode(SCRIPT)
    rows = [
        {
            "video_id": f"bench-video-{n}",
            "script_id": "script-1",
            "status": ScriptStatus.APPROVED.value,
            "body": body,
            "created_by": "bench",
            "created_at": now,
            "updated_at": now,
            "approved_at": now,
        }
        for n in range(count)
    ]
    with engine.begin() as connection:
        connection.execute(insert(ScriptRow), rows)
    if engine is not database:
        engine.dispose()
    return [[row["video_id"], row["script_id"]] for row in rows]


def existing_jobs(database: Engine, limit: int) -> list[tuple[str, str]]:
    with database.connect() as connection:
        found = connection.execute(select(JobRow.video_id, JobRow.job_id).limit(limit)).all()
    if not found:
        raise RuntimeError("the create run left no jobs to read")
    return [(video, job) for video, job in found]


def publish(database: Engine, jobs: list[tuple[str, str]]) -> None:
    """Marks the jobs SUCCEEDED with a rendered asset set and publishes each, in one transaction."""
    now = utc_now()
    assets = msgspec.to_builtins(RenderedAssets(duration_sec=140.16, sizes={"video.mp4": 1_443_418}))
    with database.begin() as connection:
        connection.execute(
            update(JobRow)
            .where(JobRow.job_id.in_([job for _, job in jobs]))
            .values(status=JobStatus.SUCCEEDED.value, progress=100, assets=assets, finished_at=now)
        )
        connection.execute(insert(PublishedRow), [{"video_id": video, "job_id": job, "published_at": now} for video, job in jobs])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="length of each wrk run")
    parser.add_argument("--stores", default=",".join(SETUPS), help=f"comma-separated: {', '.join(SETUPS)}")
    parser.add_argument("--profile", type=Path, default=None, help="sample the API with py-spy; stacks go here")
    args = parser.parse_args()
    for setup in args.stores.split(","):
        result = run_setup(setup, args.seconds, args.profile and args.profile / setup)
        print(markdown_table(result.rows()), flush=True)


def rows() -> list[Row]:
    """The section of `python -m bench`: every setup whose job store is here."""
    setups = [setup for setup, (store, _) in SETUPS.items() if store in stores_here()]
    return [row for setup in setups for row in run_setup(setup, seconds=5).rows()] + not_run_on_postgresql(SECTION)


if __name__ == "__main__":
    main()
