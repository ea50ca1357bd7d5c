"""Drives an HTTP endpoint with wrk, Debian's native load generator: one C thread on epoll, so
the two cores go to the API, not to the generator (Locust, in Python, took as much CPU as the
API it measured). A Lua script picks each request's path and bearer token (one per simulated
user, in turn), and prints wrk's totals and latency percentiles as one JSON line when the run is done.

wrk is closed-loop: each connection sends its next request when the answer arrives, so more
connections raise throughput until the server is saturated and then only raise latency.
"""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_DONE = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format('\\n{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p99_us": %d}\\n', summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Requests:
    """What to send: `paths` in turn (cycled), or, with `numbered`, `numbered % n` for
    n = first, first + step, … (each used once: a new video per create); each request carries
    the next of `tokens`."""

    method: str
    tokens: tuple[str, ...]
    paths: tuple[str, ...] = ()
    numbered: str | None = None
    first: int = 0
    step: int = 1
    body: str | None = None

    def lua(self) -> str:
        lines = [f"wrk.method = {_quoted(self.method)}"]
        if self.body is not None:
            lines += ['wrk.headers["Content-Type"] = "application/json"', f"wrk.body = {_quoted(self.body)}"]
        lines += [
            "local tokens = {",
            *(f"  {_quoted('Bearer ' + token)}," for token in self.tokens),
            "}",
            "local sent = 0",
            "local headers = {}",
        ]
        if self.numbered is not None:
            lines += [
                "local function path()",
                f"  return string.format({_quoted(self.numbered)}, {self.first} + sent * {self.step})",
                "end",
            ]
        else:
            lines += [
                "local paths = {",
                *(f"  {_quoted(path)}," for path in self.paths),
                "}",
                "local function path()",
                "  return paths[sent % #paths + 1]",
                "end",
            ]
        lines += [
            "request = function()",
            '  headers["Authorization"] = tokens[sent % #tokens + 1]',
            "  local this = wrk.format(nil, path(), headers)",
            "  sent = sent + 1",
            "  return this",
            "end",
        ]
        return "\n".join(lines) + _DONE


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    failures: int
    """Answers outside 2xx/3xx, plus connect, read, write and timeout errors."""
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (Debian)")
    return found


@dataclass
class Run:
    """One wrk run under way."""

    process: subprocess.Popen
    script: Path

    def finish(self) -> WrkResult:
        output, _ = self.process.communicate()
        self.script.unlink(missing_ok=True)
        if self.process.returncode != 0:
            raise RuntimeError(f"wrk exited with {self.process.returncode}:\n{output}")
        line = next((line for line in reversed(output.splitlines()) if line.startswith("{")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{output}")
        found = json.loads(line)
        return WrkResult(
            requests=found["requests"],
            seconds=found["duration_us"] / 1e6,
            failures=found["status_errors"] + found["socket_errors"],
            p50_ms=found["p50_us"] / 1000,
            p99_ms=found["p99_us"] / 1000,
        )


def start(base_url: str, requests: Requests, connections: int, seconds: float) -> Run:
    """Starts one wrk run against `base_url`; several may run at once (one per API instance)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(requests.lua())
    command = [
        wrk(),
        "--threads",
        "1",
        "--connections",
        str(connections),
        "--duration",
        f"{seconds:g}s",
        "--timeout",
        "10s",
        "--script",
        script.name,
        base_url,
    ]
    return Run(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), Path(script.name))


def _quoted(text: str) -> str:
    """A Lua string literal (JSON's escapes are Lua's for everything we send)."""
    return json.dumps(text, ensure_ascii=True)
