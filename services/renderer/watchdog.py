"""A pipe from each worker to its supervisor, so the supervisor can kill what it cannot see:
a worker whose process is hung (no beats) or whose render ignores a cancel (asks to die).

The worker writes one byte per heartbeat tick: BEAT while healthy, KILL_ME when a canceled
render has not stopped within the grace period (a Python thread cannot be killed; its
process can). The supervisor SIGKILLs on KILL_ME or on silence, then starts a fresh worker.
A worker that exits with EXIT_INCOMPATIBLE says that no fresh worker could do better.
"""

import contextlib
import os

BEAT = b"."
KILL_ME = b"!"
EXIT_INCOMPATIBLE = 3
"""The broker speaks another bus protocol: every restart would fail the same way, so the
supervisor stops the whole pool with this code (the systemd unit does not restart on it)."""


class SupervisorLink:
    """The worker's end; a no-op when the worker runs without a supervisor."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        if fd is not None:
            os.set_blocking(fd, False)

    def beat(self) -> None:
        self._write(BEAT)

    def ask_to_be_killed(self) -> None:
        self._write(KILL_ME)

    def _write(self, signal_byte: bytes) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(BlockingIOError):  # the supervisor is behind on reading; it has seen enough beats
            os.write(self._fd, signal_byte)


class WorkerWatch:
    """The supervisor's view of one worker's pipe."""

    def __init__(self, read_fd: int, started_at: float, startup_grace: float) -> None:
        self.read_fd = read_fd
        os.set_blocking(read_fd, False)
        # Imports (PyAV, Pillow, espeak) take a moment before the first beat.
        self.last_beat = started_at + startup_grace
        self.wants_kill = False

    def read(self, now: float) -> None:
        try:
            data = os.read(self.read_fd, 4096)
        except BlockingIOError:
            return
        if data:
            self.last_beat = max(self.last_beat, now)
        if KILL_ME in data:
            self.wants_kill = True

    def is_hung(self, now: float, liveness: float) -> bool:
        return self.wants_kill or now - self.last_beat > liveness

    def close(self) -> None:
        os.close(self.read_fd)
