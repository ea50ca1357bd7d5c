"""Which renderer workers are alive and what each is doing. Pure state, no I/O: the broker
feeds it messages and the clock, so its rules are unit-testable with a fake clock.

Workers are known by their worker id; each connection of one has a routing id of its own
(`libs.contracts.bus.routing_id`), so a worker that replaces its connection is heard at once
on the new one. A second live process under a registered id (a misconfigured host, or a
restart whose old connection the broker has not seen close yet) is held apart: it gets no
work until the registered one is gone, so the first process keeps its id while it lives.
"""

from collections import OrderedDict
from dataclasses import dataclass, field

from libs.contracts.bus import RunningJob, VoiceInfo

RETIRED_KEPT = 1_024
"""Replaced connections remembered: far more than can still have messages on the way."""


@dataclass
class Worker:
    worker_id: str
    identity: bytes
    """The routing id of its current connection: how the broker addresses it."""
    incarnation: str
    """Random per worker process: tells a new connection of the same process from another process."""
    expires_at: float
    job: RunningJob | None = None
    engines: frozenset[str] = field(default_factory=frozenset)
    voices: tuple[VoiceInfo, ...] = ()
    """What it can speak (from its Ready; none yet when it was heard first by a heartbeat)."""
    renders_sent: int = 0
    """Renders it has been sent, counted on its own scale (it reports what it received)."""
    previews_sent: int = 0


class WorkerRegistry:
    def __init__(self, liveness_sec: float) -> None:
        self._liveness_sec = liveness_sec
        # Insertion order doubles as the idle queue: the longest-idle worker gets the next job.
        self._workers: OrderedDict[str, Worker] = OrderedDict()
        self._held: dict[str, Worker] = {}
        """Newcomers under the id of a live registered worker, by worker id."""
        self._retired: OrderedDict[bytes, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._workers)

    def get(self, worker_id: str) -> Worker | None:
        return self._workers.get(worker_id)

    def held(self, worker_id: str) -> Worker | None:
        return self._held.get(worker_id)

    def register(self, worker: Worker) -> None:
        """`worker` is now the one under its id, on its connection."""
        self._held.pop(worker.worker_id, None)
        replaced = self._workers.pop(worker.worker_id, None)
        if replaced is not None and replaced.identity != worker.identity:
            self._retired[replaced.identity] = None
            if len(self._retired) > RETIRED_KEPT:
                self._retired.popitem(last=False)
        self._workers[worker.worker_id] = worker

    def retired(self, identity: bytes) -> bool:
        """A connection its worker replaced: what it still says (read late) is older than the new one's."""
        return identity in self._retired

    def hold(self, worker: Worker) -> None:
        self._held[worker.worker_id] = worker

    def heard(self, worker: Worker, now: float) -> None:
        worker.expires_at = now + self._liveness_sec

    def assign(self, worker: Worker, job: RunningJob) -> None:
        worker.job = job
        worker.renders_sent += 1
        self._workers.move_to_end(worker.worker_id)

    def release(self, worker_id: str, attempt: RunningJob) -> bool:
        """The worker ended `attempt`; if that is what it runs, it goes to the back of the idle
        queue. An outcome of any other attempt (a late resend) frees nothing."""
        worker = self._workers.get(worker_id)
        if worker is None or worker.job != attempt:
            return False
        self._workers.move_to_end(worker_id)
        worker.job = None
        return True

    @staticmethod
    def account(worker: Worker, running: RunningJob | None, renders_received: int) -> bool:
        """The worker's own account of what it runs, from a message it sent after it received
        every Render it was sent, replaces the registry's; True when that changed what the
        registry believed (the attempt it believed in, if any, is lost). An account sent
        before the last Render arrived is merely old and changes nothing. A worker may have
        received more than this registry sent it (Renders of an earlier registration still in
        flight then): its count is the floor."""
        worker.renders_sent = max(worker.renders_sent, renders_received)
        if renders_received < worker.renders_sent or running == worker.job:
            return False
        worker.job = running
        return True

    def remove(self, worker_id: str) -> Worker | None:
        return self._workers.pop(worker_id, None)

    def drop_held(self, worker_id: str) -> Worker | None:
        return self._held.pop(worker_id, None)

    def expire(self, now: float) -> tuple[list[Worker], list[Worker]]:
        """Forgets the workers whose heartbeats stopped: (the dead, the held newcomers that
        take their place)."""
        for worker_id in [w.worker_id for w in self._held.values() if w.expires_at <= now]:
            del self._held[worker_id]
        dead = [worker for worker in self._workers.values() if worker.expires_at <= now]
        successors = []
        for worker in dead:
            del self._workers[worker.worker_id]
            if (successor := self._held.pop(worker.worker_id, None)) is not None:
                self._workers[worker.worker_id] = successor
                successors.append(successor)
        return dead, successors

    def idle(self) -> list[Worker]:
        return [worker for worker in self._workers.values() if worker.job is None]

    def workers(self) -> list[Worker]:
        return list(self._workers.values())

    def owner_of(self, job_id: str) -> Worker | None:
        return next((w for w in self._workers.values() if w.job is not None and w.job.job_id == job_id), None)

    def offered_engines(self) -> set[str]:
        return set().union(*(worker.engines for worker in self._workers.values()))

    def voice_catalog(self) -> list[VoiceInfo]:
        """What the connected workers can speak, each voice once, in the order of their specs."""
        catalog: dict[str, VoiceInfo] = {}
        for worker in self._workers.values():
            for voice in worker.voices:
                catalog.setdefault(voice.voice, voice)
        return sorted(catalog.values(), key=lambda voice: voice.voice)

    def preview_worker(self, engine: str | None) -> Worker | None:
        """A worker to speak a preview with `engine` (None: any worker's default engine), busy or
        not: its preview lane runs beside its render. Workers that told their voices first (an
        older worker, which sends none, cannot read a preview and would leave it to time out),
        then idle ones (no render to share the CPU with), then the one asked the fewest previews."""
        offering = [worker for worker in self._workers.values() if engine is None or engine in worker.engines]
        if not offering:
            return None
        chosen = min(offering, key=lambda worker: (not worker.voices, worker.job is not None, worker.previews_sent))
        chosen.previews_sent += 1
        return chosen
