"""Job events from one API instance to the WebSocket subscribers of another, through one
PostgreSQL server: ours (progress/fanout.py: NOTIFY in batches on a held connection, LISTEN on
another) against Litestar's AsyncPgChannelsBackend (a new connection per publish), side by
side in one run, each offered 1,000 events/s of the size the API publishes. Both "instances"
run in this one process, each with its own connections.

    .venv/bin/python -m bench.instances [--seconds 10]
"""

import argparse
import asyncio
import time
from collections.abc import Callable
from contextlib import AsyncExitStack

import msgspec
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.asyncpg import AsyncPgChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from sqlalchemy.engine import make_url

from bench.results import Row, Target, markdown_table
from services.api.progress.fanout import ClusterFanout
from services.api.settings import Settings
from tests.postgres_server import PostgresServer

SECTION = "instances"
RATE = 1_000
BURST = 20_000
"""Events sent at once, as fast as the sender queues them: how far past RATE ours goes."""
DRAIN_SEC = 15.0
"""How long the receiving side may lag behind the end of sending before the rest counts as lost."""
CHANNELS = ["job:bench", "video:bench"]


class BenchEvent(msgspec.Struct):
    """The size of a progress event the API publishes (~300 bytes), plus when it was sent."""

    type: str
    video_id: str
    job_id: str
    seq: int
    status: str
    step: str
    progress: int
    message: str
    timestamp: str
    sent: float


def run(seconds: float = 10.0) -> list[Row]:
    server = PostgresServer()
    server.start()
    try:
        url = server.new_database()
        measured = {
            "ours (batched NOTIFY, held connections)": asyncio.run(_ours(url, seconds)),
            "Litestar AsyncPgChannelsBackend": asyncio.run(_litestar(url, seconds)),
        }
        burst = asyncio.run(_ours(url, seconds, rate=None))
    finally:
        server.stop()
    rows = []
    for name, (delivered, per_second, p50, p99) in measured.items():
        ours = name.startswith("ours")
        rows += [
            Row(
                SECTION,
                f"{name}: delivered across instances",
                per_second,
                "events/s",
                Target(">=", 980) if ours else None,
                note=f"{delivered:,} of {int(RATE * seconds):,} offered at {RATE:,}/s",
            ),
            Row(SECTION, f"{name}: send-to-subscriber latency p50", p50, "ms"),
            Row(SECTION, f"{name}: send-to-subscriber latency p99", p99, "ms", Target("<=", 100) if ours else None),
        ]
    rows.append(
        Row(
            SECTION,
            "ours: a burst, delivered across instances",
            burst[1],
            "events/s",
            note=f"{burst[0]:,} of {BURST:,} sent at once; p99 {burst[3]:,.0f} ms",
        )
    )
    (_, ours_rate, _, _), (_, theirs_rate, _, _) = measured.values()
    rows.append(Row(SECTION, "ours ÷ Litestar AsyncPgChannelsBackend, events/s delivered", ours_rate / theirs_rate, "x"))
    return rows


async def _ours(url: str, seconds: float, rate: int | None = RATE) -> tuple[int, float, float, float]:
    settings = Settings(database_url=url)
    sending_plugin, receiving_plugin = (
        ChannelsPlugin(MemoryChannelsBackend(), arbitrary_channels_allowed=True) for _ in range(2)
    )
    sender, receiver = ClusterFanout(settings, sending_plugin), ClusterFanout(settings, receiving_plugin)
    async with AsyncExitStack() as stack:
        for plugin in (sending_plugin, receiving_plugin):
            await stack.enter_async_context(plugin)
        for fanout in (sender, receiver):
            await fanout.start()
            stack.push_async_callback(fanout.stop)
        subscriber = await receiving_plugin.subscribe(CHANNELS[:1])
        await asyncio.sleep(1.0)  # both held connections open and listening before the clock starts
        return await _offer(lambda data: sender.send("bench", CHANNELS, data), subscriber, seconds, rate)


async def _litestar(url: str, seconds: float) -> tuple[int, float, float, float]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    publishing, receiving = (ChannelsPlugin(AsyncPgChannelsBackend(dsn=dsn), arbitrary_channels_allowed=True) for _ in range(2))
    async with publishing, receiving:
        subscriber = await receiving.subscribe(CHANNELS[:1])
        await asyncio.sleep(1.0)
        return await _offer(lambda data: publishing.publish(data, CHANNELS), subscriber, seconds)


async def _offer(
    send: Callable[[bytes], None], subscriber, seconds: float, rate: int | None = RATE
) -> tuple[int, float, float, float]:
    """Sends `rate` events a second for `seconds`, paced on the clock (None: BURST events at
    once), while counting what the subscriber gets. Returns (delivered, delivered per second,
    latency p50 ms, p99 ms)."""
    total = int(rate * seconds) if rate else BURST
    latencies: list[float] = []

    async def receive() -> None:
        async for data in subscriber.iter_events():
            latencies.append(time.perf_counter() - msgspec.json.decode(data, type=BenchEvent).sent)
            if len(latencies) == total:
                return

    receiving = asyncio.create_task(receive())
    encoder = msgspec.json.Encoder()
    started = time.perf_counter()
    for seq in range(1, total + 1):
        lag = started + seq / rate - time.perf_counter() if rate else 0
        if lag > 0:
            await asyncio.sleep(lag)
        send(
            encoder.encode(
                BenchEvent(
                    type="progress",
                    video_id="bench-video-0123456789",
                    job_id="job-00000000-0000-0000-0000-000000000000",
                    seq=seq,
                    status="RUNNING",
                    step="COMPOSE_VIDEO",
                    progress=seq % 100,
                    message="Encoding scene 7 of 12 (1920x1080, H.264)",
                    timestamp="2026-12-06T12:00:00.000Z",
                    sent=time.perf_counter(),
                )
            )
        )
    try:
        await asyncio.wait_for(asyncio.shield(receiving), DRAIN_SEC)
    except TimeoutError:
        receiving.cancel()
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return (
        len(latencies),
        len(latencies) / elapsed,
        1000 * ordered[len(ordered) // 2],
        1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    print(markdown_table(run(parser.parse_args().seconds)))
