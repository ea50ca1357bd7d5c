"""Runs the readers of fonts and audio (probe.py) in short-lived processes of their own, a few at
a time, each with a wall-clock deadline on top of the CPU and memory caps it sets itself."""

import asyncio
import logging
import sys
from typing import Literal, TypeVar

import msgspec

from services.api.errors import MediaInvalid, MediaRefused, MediaTooLarge, UnsupportedMediaType
from services.api.media.facts import REFUSED_EXIT_STATUS, Refusal

log = logging.getLogger(__name__)

Facts = TypeVar("Facts")
ReaderKind = Literal["font", "audio"]

_REFUSALS: dict[str, type[MediaRefused]] = {
    error.error_code.value: error for error in (MediaInvalid, MediaTooLarge, UnsupportedMediaType)
}


class Sandbox:
    def __init__(self, *, timeout_sec: float, max_concurrent: int) -> None:
        self._timeout_sec = timeout_sec
        # Each reader may take most of a gigabyte (probe.py): a burst of uploads waits its turn
        # instead of taking the host's memory.
        self._slots = asyncio.Semaphore(max_concurrent)

    async def read(self, kind: ReaderKind, data: bytes, facts_type: type[Facts], *options: str) -> Facts:
        """The reader's facts about `data`. Raises its refusal, or MediaInvalid naming the reader
        that crashed or ran past the deadline on it."""
        command = [sys.executable, "-m", "services.api.media.probe", kind, f"--cpu-sec={int(self._timeout_sec) + 1}", *options]
        async with self._slots:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            try:
                output, errors = await asyncio.wait_for(process.communicate(data), self._timeout_sec)
            except TimeoutError:
                raise MediaInvalid(
                    f"Reading the {kind} took longer than {self._timeout_sec:g} s; it may be corrupt or built to stall a reader.",
                    reason="timeout",
                ) from None
            finally:
                # A deadline passed or the request gone: the reader must not run on unattended.
                if process.returncode is None:
                    process.kill()
                    await process.wait()
        if process.returncode == 0:
            return msgspec.json.decode(output, type=facts_type)
        if process.returncode == REFUSED_EXIT_STATUS:
            refusal = msgspec.json.decode(output, type=Refusal)
            raise _REFUSALS[refusal.error_code](refusal.message, **refusal.detail)
        log.warning("the %s reader exited with %s: %s", kind, process.returncode, errors.decode(errors="replace")[-2000:])
        raise MediaInvalid(
            f"The {kind} could not be read: its reader stopped on it (out of memory or time). It may be corrupt.",
            reason="reader_failed",
        )
