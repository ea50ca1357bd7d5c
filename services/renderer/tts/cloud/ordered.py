"""Synthesizes a job's sentences several at a time and hands them back in order."""

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import TypeVar

from services.renderer.tts.base import SentenceDone, SynthesisCanceled

_CANCEL_POLL_SEC = 0.05

Item = TypeVar("Item")
Result = TypeVar("Result")


def run_in_order(
    items: list[Item],
    work: Callable[[Item, threading.Event], Result],
    *,
    concurrency: int,
    cancel: threading.Event,
    on_done: SentenceDone | None = None,
) -> list[Result]:
    """`work(item, stop)` for every item, up to `concurrency` at once; the results in the items'
    order. `on_done` gets the number finished so far, on the calling thread.

    The first failure, or `cancel`, ends the call at once: `stop` is set so running work stops
    at its next check, work not started never starts, and requests still in flight finish on
    their own threads without being waited for (a cancel must not wait out an HTTP timeout)."""
    if not items:
        return []
    stop = threading.Event()
    results: list[Result | None] = [None] * len(items)
    executor = ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="tts-cloud")
    try:
        positions = {executor.submit(work, item, stop): position for position, item in enumerate(items)}
        pending = set(positions)
        finished_count = 0
        while pending:
            finished, pending = wait(pending, timeout=_CANCEL_POLL_SEC, return_when=FIRST_COMPLETED)
            if cancel.is_set():
                raise SynthesisCanceled
            for future in finished:
                results[positions[future]] = future.result()
                finished_count += 1
                if on_done is not None:
                    on_done(finished_count)
        return results  # type: ignore[return-value]
    finally:
        stop.set()
        executor.shutdown(wait=False, cancel_futures=True)
