"""CPU time a process tree used during a measurement, as a share of one core: tells whether
the server or the load generator was the bottleneck."""

import threading

import psutil


class CpuMeter:
    """Samples the CPU times of `pid` and its descendants; children that exit between samples
    keep their last reading, so forked load-generator workers are counted too."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self._root = psutil.Process(pid)
        self._interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "CpuMeter":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def busy_seconds(self) -> float:
        return sum(self._last[pid] - self._first[pid] for pid in self._last)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        first_sample = not self._first
        try:
            processes = [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            used = times.user + times.system
            # A process first seen mid-run started after the meter: all its time counts.
            self._first.setdefault(process.pid, used if first_sample else 0.0)
            self._last[process.pid] = used
