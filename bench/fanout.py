"""Progress fan-out through the real API: renderer workers publish Progress on the real bus, the
broker stores and numbers each event, and WebSocket subscribers receive it.

The workers are protocol fakes (the real DEALER protocol: Ready, Heartbeat, Render, and
Progress on a PUB of their own, as services/renderer/worker.py sends them) so that their jobs
stay RUNNING for the whole run without rendering anything. All of them live in one publisher
process; the subscribers in `--client-processes` processes of their own, so neither side's
Python competes with the API's event loop for one interpreter.

Each Progress carries its publish time (`time.time()`) in `message`, which the API stores and
sends on, so a subscriber computes publish-to-client latency on the same clock.

    .venv/bin/python -m bench.fanout [--rate 1000] [--subscribers 200] [--jobs 20] [--seconds 20] [--store PostgreSQL]
"""

import argparse
import asyncio
import contextlib
import dataclasses
import multiprocessing
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from pathlib import Path

import msgspec
import websockets
import zmq
from sqlalchemy import create_engine, select

from bench import progress_store
from bench.api_load import approve_scripts
from bench.cpu import CpuMeter
from bench.results import Row, Target, markdown_table
from bench.stores import job_table_url, not_run_on_postgresql, stores_here, sync_url
from libs.contracts.bus import (
    Disconnect,
    Heartbeat,
    Progress,
    Ready,
    Render,
    RunningJob,
    api_command_codec,
    progress_codec,
    renderer_codec,
)
from libs.contracts.codes import Step
from services.api.auth.roles import Role
from services.api.db.models import JobEventRow, JobRow
from tests.faults.fake_renderer import HEARTBEAT_SEC, SLOW_JOINER_SEC, bus_sockets, zmq_context
from tests.stack import Stack

DRAIN_SEC = 2.0
"""After the last publish: time for what is in flight to reach every subscriber."""
HANDSHAKES_AT_ONCE = 20
P99_MS = 100
STORE_EVENTS_PER_JOB = 2
"""Per job in one burst of the write measured on its own: the fan-out run's bursts hold one to
a few events of each job."""
SECTION = "fanout"


@dataclass(frozen=True)
class BusPorts:
    """What `bus_sockets` needs of a stack, picklable for the publisher process."""

    command_port: int
    event_port: int


@dataclass(frozen=True)
class Subscription:
    video_id: str
    job_id: str
    url: str


@dataclass
class Received:
    """One subscriber's view of the run."""

    job_id: str
    start_seq: int = -1
    """The snapshot's seq: everything stored after it is owed to this subscriber."""
    events: int = 0
    latencies: list[float] = field(default_factory=list)
    close_code: int | None = None


@dataclass(frozen=True)
class FanoutResult:
    store: str
    rate: int
    seconds: float
    jobs: int
    subscribers: int
    published: int
    stored: int
    """Events the API stored: fewer than published when the bus dropped some, or when the broker
    fell behind and merged its backlog latest-wins (`merged`)."""
    merged: int
    """Events the broker left out when it merged a backlog (its /readyz `bus_rejected`)."""
    expected: int
    """Deliveries owed: each published event times the subscribers of its job."""
    owed_stored: int
    """Deliveries of what the API stored: each stored event times the subscribers of its job."""
    delivered: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    stored_p50_ms: float
    stored_p99_ms: float
    """Publish to the moment the API numbered the event for storing: the bus, the broker's
    backlog and its write, but neither the commit nor the fan-out after it."""
    closed_early: int
    """Subscribers the server closed before the end (e.g. 4008 slow consumer)."""
    store_cpu_per_event: float | None
    """Seconds of CPU the broker's write costs per stored event (bench/progress_store.py, on
    SQLite: measured with the SQLite run only)."""
    api_cpu: float
    publisher_cpu: float
    client_cpu: float

    @property
    def published_rate(self) -> float:
        return self.published / self.seconds

    @property
    def delivered_rate(self) -> float:
        return self.delivered / self.seconds

    def rows(self) -> list[Row]:
        setup = (
            f"{self.jobs} RUNNING jobs (one publisher each), {self.subscribers} subscribers "
            f"({self.subscribers // self.jobs} per job), {self.seconds:.0f} s"
        )
        cpu = f"CPU: API {self.api_cpu:.2f} cores, publisher {self.publisher_cpu:.2f}, clients {self.client_cpu:.2f}"
        rows = [
            Row(SECTION, "events published", self.published_rate, "events/s", Target(">=", 0.98 * self.rate), setup),
            Row(
                SECTION,
                "events stored by the API",
                self.stored,
                "",
                None,
                f"of {self.published:,} published; {self.merged:,} left out by the broker's latest-wins merge of a backlog "
                f"it fell behind on, {max(0, self.published - self.stored - self.merged):,} lost before it",
            ),
            Row(
                SECTION,
                "deliveries (events × subscribers of their job)",
                self.delivered_rate,
                "per s",
                None,
                f"{self.delivered:,} of {self.expected:,} owed",
            ),
            Row(
                SECTION,
                "published events delivered to every subscriber",
                100 * self.delivered / max(1, self.expected),
                "%",
                Target(">=", 100),
                f"{self.closed_early} subscribers closed early",
            ),
            Row(
                SECTION,
                "stored events delivered to every subscriber",
                100 * self.delivered / max(1, self.owed_stored),
                "%",
                None,
                f"{self.delivered:,} of {self.owed_stored:,}: what is lost is lost before the store, not after",
            ),
            Row(
                SECTION,
                "publish-to-store latency p50",
                self.stored_p50_ms,
                "ms",
                None,
                "until the broker numbered the event for its write; the rest of publish-to-client is commit and fan-out",
            ),
            Row(SECTION, "publish-to-store latency p99", self.stored_p99_ms, "ms"),
            *(
                [
                    Row(
                        SECTION,
                        "progress write: API CPU per stored event",
                        1e6 * self.store_cpu_per_event,
                        "µs",
                        None,
                        f"measured on its own: bursts of {STORE_EVENTS_PER_JOB} events of each of {self.jobs} jobs, "
                        "one transaction each",
                    )
                ]
                if self.store_cpu_per_event is not None
                else []
            ),
            Row(
                SECTION,
                "API CPU per delivery",
                1e6 * self.api_cpu / max(1.0, self.delivered_rate),
                "µs",
                None,
                "the API's CPU over the run ÷ deliveries: write, fan-out and WebSocket send together",
            ),
            Row(SECTION, "publish-to-client latency p50", self.p50_ms, "ms"),
            Row(
                SECTION,
                "publish-to-client latency p99",
                self.p99_ms,
                "ms",
                Target("<=", P99_MS),
                f"max {self.max_ms:.0f} ms; {cpu}",
            ),
        ]
        return [dataclasses.replace(row, metric=f"{row.metric} ({self.store})") for row in rows]


def run_fanout(
    rate: int = 1000,
    subscribers: int = 200,
    jobs: int = 20,
    seconds: float = 20,
    client_processes: int = 2,
    store: str = "SQLite",
) -> FanoutResult:
    if subscribers % jobs:
        raise ValueError("subscribers must be a multiple of jobs (the same number watch each job)")
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as folder, job_table_url(store) as database_url:
        stack = Stack(data_dir=Path(folder), workers=0, extra_env={"LOG_LEVEL": "WARNING"}, database_url=database_url)
        stack.start_api()
        try:
            stack.wait_alive()
            database = sync_url(stack)
            _start_jobs(stack, approve_scripts(database, jobs))
            assigned, published, go, stop = spawn.Queue(), spawn.Queue(), spawn.Event(), spawn.Event()
            publisher = spawn.Process(
                target=publish,
                args=(BusPorts(stack.command_port, stack.event_port), jobs, rate, seconds, assigned, published, go, stop),
            )
            publisher.start()
            running = assigned.get(timeout=60)  # [(video_id, job_id)] once every fake worker has its Render
            subscriptions = [
                Subscription(video_id, job_id, _progress_url(stack, video_id, job_id, f"bench-viewer-{n}"))
                for n, (video_id, job_id) in enumerate(running * (subscribers // jobs))
            ]
            ready, results = spawn.Queue(), spawn.Queue()
            shares = [subscriptions[n::client_processes] for n in range(client_processes)]
            clients = [spawn.Process(target=subscribe, args=(share, ready, stop, results)) for share in shares]
            for client in clients:
                client.start()
            for _ in clients:
                ready.get(timeout=120)
            with contextlib.ExitStack() as measuring:
                api_cpu, publisher_cpu = (measuring.enter_context(CpuMeter(pid)) for pid in (stack.api.pid, publisher.pid))
                client_cpu = [measuring.enter_context(CpuMeter(client.pid)) for client in clients]
                started = time.monotonic()
                go.set()
                published_by_job: dict[str, int] = published.get(timeout=seconds + 60)
                time.sleep(DRAIN_SEC)
                wall = time.monotonic() - started
            # Before the fake workers leave: their jobs' "worker lost" events are not part of the run.
            stored_by_job = _last_seqs(database)
            store_latencies = _store_latencies(database)
            merged = _merged_progress(stack)
            stop.set()
            received: list[Received] = [one for _ in clients for one in results.get(timeout=60)]
            for process in (publisher, *clients):
                process.join(timeout=30)
        finally:
            stack.stop()
    store_cpu_per_event = progress_store.measure(jobs, STORE_EVENTS_PER_JOB) if store == "SQLite" else None
    latencies = sorted(latency for one in received for latency in one.latencies)
    store_latencies.sort()
    start_seq = {one.job_id: one.start_seq for one in received}
    return FanoutResult(
        store=store,
        rate=rate,
        seconds=seconds,
        jobs=jobs,
        subscribers=subscribers,
        published=sum(published_by_job.values()),
        stored=sum(stored_by_job[job_id] - start_seq[job_id] for job_id in published_by_job),
        merged=merged,
        expected=sum(published_by_job[one.job_id] for one in received),
        owed_stored=sum(stored_by_job[one.job_id] - one.start_seq for one in received),
        delivered=sum(one.events for one in received),
        p50_ms=1000 * _percentile(latencies, 50),
        p99_ms=1000 * _percentile(latencies, 99),
        max_ms=1000 * (latencies[-1] if latencies else float("nan")),
        stored_p50_ms=1000 * _percentile(store_latencies, 50),
        stored_p99_ms=1000 * _percentile(store_latencies, 99),
        closed_early=sum(one.close_code is not None for one in received),
        store_cpu_per_event=store_cpu_per_event,
        api_cpu=api_cpu.busy_seconds / wall,
        publisher_cpu=publisher_cpu.busy_seconds / wall,
        client_cpu=sum(meter.busy_seconds for meter in client_cpu) / wall,
    )


def _start_jobs(stack: Stack, videos: list[list[str]]) -> None:
    with stack.client(Role.EDITOR, timeout=30) as http:
        for video_id, script_id in videos:
            response = http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": script_id})
            response.raise_for_status()


def _progress_url(stack: Stack, video_id: str, job_id: str, subject: str) -> str:
    # One subject per subscriber, as real viewers are: the per-subject socket cap stays as configured.
    token = stack.token(Role.VIEWER, subject)
    return f"{stack.ws_url}/ws/videos/{video_id}/render-progress?job_id={job_id}&token={token}"


def _last_seqs(database: str) -> dict[str, int]:
    engine = create_engine(database)
    with engine.connect() as connection:
        found = dict(connection.execute(select(JobRow.job_id, JobRow.last_seq)).all())
    engine.dispose()
    return found


def _merged_progress(stack: Stack) -> int:
    with stack.client(Role.ADMIN, timeout=30) as http:
        return http.get("/readyz").json()["bus_rejected"].get("merged_progress", 0)


def _store_latencies(database: str) -> list[float]:
    """Seconds from publish (the time the publisher put in `message`) to `created_at`, which the
    broker sets when it numbers the event, for each event stored during the run."""
    engine = create_engine(database)
    with engine.connect() as connection:
        rows = connection.execute(
            select(JobEventRow.created_at, JobEventRow.message).where(JobEventRow.status == "RUNNING")
        ).all()
    engine.dispose()
    latencies = []
    for created_at, message in rows:
        with contextlib.suppress(ValueError):  # the job's own "started" events carry words, not a time
            latencies.append(created_at.timestamp() - float(message))
    return latencies


def _percentile(ordered: list[float], percent: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(len(ordered) * percent / 100))]


# --- publisher process: fake renderer workers ------------------------------------------------


class FakeWorker:
    """One renderer worker as the broker sees it: it says Ready, takes one Render, heartbeats
    naming it, and publishes Progress for it; it never finishes, so the job stays RUNNING."""

    def __init__(self, context: zmq.Context, ports: BusPorts, identity: str) -> None:
        self.identity = identity
        self.dealer, self._pub = bus_sockets(context, ports, identity)
        self._commands, self._replies, self._progress = api_command_codec(), renderer_codec(), progress_codec()
        self.job: Render | None = None
        self.seq = 0
        self._next_beat = 0.0

    def send(self, message) -> None:
        self.dealer.send(self._commands.encode(message))

    def receive(self) -> None:
        message = self._replies.decode(self.dealer.recv())
        if isinstance(message, Render) and self.job is None:
            self.job = message

    def heartbeat_if_due(self, now: float) -> None:
        if now >= self._next_beat:
            running = RunningJob(job_id=self.job.job_id, attempt=self.job.attempt) if self.job else None
            self.send(Heartbeat(running_job=running))
            self._next_beat = now + HEARTBEAT_SEC

    def publish(self) -> None:
        self.seq += 1
        self._pub.send(
            self._progress.encode(
                Progress(
                    job_id=self.job.job_id,
                    video_id=self.job.video_id,
                    attempt=self.job.attempt,
                    seq=self.seq,
                    step=Step.COMPOSE_VIDEO,
                    progress=min(99, self.seq // 10),
                    message=repr(time.time()),
                    ts=time.time(),
                )
            )
        )


def publish(ports: BusPorts, jobs: int, rate: int, seconds: float, assigned, published, go: Event, stop: Event) -> None:
    """Publisher process: `jobs` fake workers take one job each, then publish `rate` events/s
    in total, round-robin, for `seconds`, and keep heartbeating until `stop`."""
    with zmq_context() as context:
        workers = [FakeWorker(context, ports, f"bench-renderer-{n}") for n in range(jobs)]
        poller = zmq.Poller()
        for worker in workers:
            poller.register(worker.dealer, zmq.POLLIN)
        by_socket = {worker.dealer: worker for worker in workers}

        def serve(timeout_sec: float) -> None:
            for socket, _ in poller.poll(timeout_sec * 1000):
                by_socket[socket].receive()
            now = time.monotonic()
            for worker in workers:
                worker.heartbeat_if_due(now)

        time.sleep(SLOW_JOINER_SEC)
        for worker in workers:
            worker.send(Ready(worker_id=worker.identity))
        while any(worker.job is None for worker in workers):
            serve(0.1)
        assigned.put([(worker.job.video_id, worker.job.job_id) for worker in workers])
        while not go.is_set():
            serve(0.05)
        started = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - started) < seconds:
            # Whatever is due by now goes out at once: the schedule, not the loop, sets the rate.
            for _ in range(int(elapsed * rate) - sent):
                workers[sent % jobs].publish()
                sent += 1
            serve(0.002)
        published.put({worker.job.job_id: worker.seq for worker in workers})
        while not stop.is_set():
            serve(0.05)
        for worker in workers:
            worker.send(Disconnect())


# --- subscriber processes ------------------------------------------------------------------


class EventView(msgspec.Struct):
    """The fields of a progress-stream message a subscriber needs."""

    type: str
    seq: int = 0
    message: str = ""


def subscribe(subscriptions: list[Subscription], ready, stop: Event, results) -> None:
    """Subscriber process: opens its sockets, says ready once each has its snapshot, counts
    and times every progress event until `stop`, then sends back what each one saw."""
    asyncio.run(_subscribe(subscriptions, ready, stop, results))


async def _subscribe(subscriptions: list[Subscription], ready, stop: Event, results) -> None:
    decode = msgspec.json.Decoder(EventView).decode
    seen = [Received(job_id=subscription.job_id) for subscription in subscriptions]
    snapshots = asyncio.Semaphore(0)
    handshakes = asyncio.Semaphore(HANDSHAKES_AT_ONCE)

    async def follow(subscription: Subscription, received: Received) -> None:
        async with handshakes:
            socket = await websockets.connect(subscription.url, open_timeout=60, ping_interval=None, max_queue=None)
        try:
            async for raw in socket:
                event = decode(raw)
                if event.type == "progress":
                    received.latencies.append(time.time() - float(event.message))
                    received.events += 1
                elif event.type == "snapshot":
                    received.start_seq = event.seq
                    snapshots.release()
        except websockets.ConnectionClosed:
            pass
        except asyncio.CancelledError:
            await socket.close()  # the run is over: this end closes
            return
        received.close_code = socket.close_code  # the server closed first

    tasks = [asyncio.create_task(follow(subscription, received)) for subscription, received in zip(subscriptions, seen)]
    for _ in tasks:
        await snapshots.acquire()
    ready.put(len(tasks))
    while not stop.is_set():  # noqa: ASYNC110 - a multiprocessing Event: nothing to await
        await asyncio.sleep(0.05)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    results.put(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="events per second, all publishers together")
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=20, help="RUNNING jobs (publishers); subscribers are shared out evenly")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--store", choices=("SQLite", "PostgreSQL"), default="SQLite", help="the API's job store")
    args = parser.parse_args()
    result = run_fanout(args.rate, args.subscribers, args.jobs, args.seconds, args.client_processes, args.store)
    print(markdown_table(result.rows()))


def rows() -> list[Row]:
    """The section of `python -m bench`, with the defaults, on each job store here."""
    return [row for store in stores_here() for row in run_fanout(store=store).rows()] + not_run_on_postgresql(SECTION)


if __name__ == "__main__":
    main()
