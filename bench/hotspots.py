"""Where a process spends its CPU under load: py-spy samples the thread holding the GIL, and
the collapsed stacks are summed by library (the innermost known frame of each sample) and by
our own functions.

Only GIL-holding samples count: waiting threads (the event loop in epoll, idle thread-pool
workers) would otherwise show up as busy, as py-spy cannot tell them idle here. C
code that releases the GIL (SQLite executing a statement) is not seen; for an asyncio server in
one process the GIL is the resource that runs out.

py-spy needs ptrace rights on the process (root, or kernel.yama.ptrace_scope=0).
"""

import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SAMPLES_PER_SEC = 200

# Source path prefix (as py-spy prints it) -> library; first match wins, specific before generic.
LIBRARIES = (
    ("sqlalchemy/", "SQLAlchemy"),
    ("services/api/db/sqlite_thread", "SQLite driver (thread)"),
    ("jwt/", "JWT (PyJWT)"),
    ("cryptography/", "JWT (cryptography)"),
    ("litestar/middleware/rate_limit", "Litestar rate limit"),
    ("litestar/", "Litestar"),
    ("uvicorn/", "uvicorn"),
    ("h11/", "h11 (HTTP parsing)"),
    ("websockets/", "websockets"),
    ("zmq/", "pyzmq"),
    ("msgspec/", "msgspec"),
    ("asyncio/", "asyncio event loop"),
    ("concurrent/futures/", "thread pool"),
    ("logging/", "logging"),
    ("threading.py", "threading"),
    ("services/", "slidereel services"),
    ("libs/", "slidereel libs"),
)
OWN_CODE = ("services/", "libs/")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed: pip install -e '.[bench]'")
    return found


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen:
    """Starts sampling `pid` for `seconds` into `output` (collapsed stacks); wait() on the result."""
    return subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            str(SAMPLES_PER_SEC),
            "--format",
            "raw",
            "--gil",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish(sampler: subprocess.Popen) -> None:
    """Waits for a `record()` to end; raises with py-spy's reason if it failed."""
    _, errors = sampler.communicate()
    if sampler.returncode != 0:
        raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')}")


@dataclass(frozen=True)
class Hotspots:
    samples: int
    by_library: list[tuple[str, float]]
    """Share of samples whose innermost recognised frame is in that library (sums to 100 %)."""
    own_functions: list[tuple[str, float]]
    """Share of samples with that function of ours on the stack (inclusive, so they overlap)."""

    def format(self, top: int = 10) -> str:
        lines = [f"{self.samples} samples holding the GIL; self time by library:"]
        lines += [f"  {share:5.1f} %  {name}" for name, share in self.by_library[:top]]
        lines.append("inclusive time of our functions:")
        lines += [f"  {share:5.1f} %  {name}" for name, share in self.own_functions[:top]]
        return "\n".join(lines)


def summarize(collapsed: Path) -> Hotspots:
    libraries: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        libraries[_innermost_library(frames)] += count
        for function in {_function_name(frame) for frame in frames if _path(frame).startswith(OWN_CODE)}:
            functions[function] += count
    if not total:
        raise RuntimeError(f"no samples in {collapsed}")
    return Hotspots(
        samples=total,
        by_library=[(name, 100 * count / total) for name, count in libraries.most_common()],
        own_functions=[(name, 100 * count / total) for name, count in functions.most_common()],
    )


def _path(frame: str) -> str:
    """`JobStore.create (services/api/jobs/store.py:52)` -> `services/api/jobs/store.py`."""
    return frame.rpartition(" (")[2].rpartition(":")[0]


def _innermost_library(frames: list[str]) -> str:
    for frame in reversed(frames):
        path = _path(frame)
        for prefix, library in LIBRARIES:
            if path.startswith(prefix):
                return library
    return "other"


def _function_name(frame: str) -> str:
    """`JobStore.create (services/api/jobs/store.py:52)` -> `services/api/jobs/store.py:JobStore.create`."""
    return f"{_path(frame)}:{frame.rpartition(' (')[0]}"
