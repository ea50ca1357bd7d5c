"""One deck's conversion process (pages.py), as the API drives it: its events, its go, its end."""

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

import msgspec

from services.api.decks import pages
from services.api.errors import ApplicationError, MediaInvalid, MediaTooLarge

log = logging.getLogger(__name__)

_REFUSALS = {"MEDIA_TOO_LARGE": MediaTooLarge, "MEDIA_INVALID": MediaInvalid}
_STDERR = "stderr.log"
"""In the output folder, not a pipe: a chatty converter could fill a pipe nobody reads and stall."""


class Conversion:
    def __init__(self, process: asyncio.subprocess.Process, out: Path) -> None:
        if process.stdin is None or process.stdout is None:
            raise ValueError("a conversion process needs its stdin and stdout piped")
        self._process = process
        self._stdin, self._stdout = process.stdin, process.stdout
        self._out = out

    @classmethod
    async def start(
        cls, kind: str, deck: Path, out: Path, *, max_pages: int, max_unzipped_bytes: int, frame: tuple[int, int], soffice: str
    ) -> "Conversion":
        command = [
            sys.executable,
            "-m",
            "services.api.decks.pages",
            kind,
            str(deck),
            str(out),
            f"--max-pages={max_pages}",
            f"--max-unzipped-bytes={max_unzipped_bytes}",
            "--frame={}x{}".format(*frame),
            f"--soffice={soffice}",
            f"--parent-pid={os.getpid()}",
        ]
        with (out / _STDERR).open("wb") as stderr:
            # Its own session, so LibreOffice's processes go with it when it is killed.
            process = await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr, start_new_session=True
            )
        return cls(process, out)

    async def accepted(self) -> pages.Event:
        """The deck passed the converter's checks: its page count and title. Raises the
        refusal (or a converter crash) otherwise."""
        event = await self.next_event()
        if event is None or event.kind != "accepted":
            raise await self._failure()
        return event

    def go(self) -> None:
        """Starts the conversion proper (the API holds a conversion slot from now on)."""
        self._stdin.write(b"go\n")

    async def next_event(self) -> pages.Event | None:
        """The next progress event; None once the process closed its output."""
        line = await self._stdout.readline()
        return msgspec.json.decode(line, type=pages.Event) if line else None

    async def manifest(self) -> pages.Manifest:
        """After the last event: the pages drawn, or the refusal or crash raised."""
        if await self._process.wait() != 0:
            raise await self._failure()
        return msgspec.json.decode((self._out / pages.MANIFEST).read_bytes(), type=pages.Manifest)

    async def close(self) -> None:
        """Kills the process group if it still runs (a refusal, a deadline, a request given up)."""
        if self._process.returncode is None:
            os.killpg(self._process.pid, signal.SIGKILL)
        await self._process.wait()

    async def _failure(self) -> ApplicationError:
        status = await self._process.wait()
        if status == pages.REFUSED_EXIT_STATUS:
            refusal = msgspec.json.decode((self._out / pages.REFUSAL).read_bytes(), type=pages.Refusal)
            return _REFUSALS[refusal.error_code](refusal.message, **refusal.detail)
        errors = (self._out / _STDERR).read_bytes().decode(errors="replace")[-2000:]
        log.error("deck conversion exited with %s: %s", status, errors)
        return MediaInvalid(
            "The deck could not be converted: the converter stopped on it. It may be corrupt.", reason="converter_failed"
        )
