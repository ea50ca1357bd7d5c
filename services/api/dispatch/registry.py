"""Which renderer workers are alive and what each is doing. Pure state, no I/O: the broker
feeds it messages and the clock, so its rules are unit-testable with a fake clock."""

from collections import OrderedDict
from dataclasses import dataclass

from libs.contracts.bus import RunningJob


@dataclass
class Worker:
    identity: bytes
    """The DEALER's ROUTER identity: how the broker addresses it."""
    worker_id: str
    expires_at: float
    job: RunningJob | None = None
    assigned_at: float = 0.0


class WorkerRegistry:
    def __init__(self, liveness_sec: float) -> None:
        self._liveness_sec = liveness_sec
        # Insertion order doubles as the idle queue: the longest-idle worker gets the next job.
        self._workers: OrderedDict[bytes, Worker] = OrderedDict()

    def __len__(self) -> int:
        return len(self._workers)

    def __contains__(self, identity: bytes) -> bool:
        return identity in self._workers

    def ready(self, identity: bytes, worker_id: str, job: RunningJob | None, now: float) -> Worker:
        self._workers.pop(identity, None)
        worker = Worker(identity=identity, worker_id=worker_id, expires_at=now + self._liveness_sec, job=job)
        self._workers[identity] = worker
        return worker

    def heartbeat(self, identity: bytes, now: float) -> Worker | None:
        worker = self._workers.get(identity)
        if worker is not None:
            worker.expires_at = now + self._liveness_sec
        return worker

    def assign(self, identity: bytes, job: RunningJob, now: float) -> None:
        worker = self._workers.pop(identity)
        worker.job = job
        worker.assigned_at = now
        self._workers[identity] = worker

    def disagreement(self, identity: bytes, reported: RunningJob | None, now: float, grace: float) -> RunningJob | None:
        """The job the registry thinks this worker runs, if the worker's heartbeat keeps
        saying otherwise for longer than `grace` (a Render may still be in flight before it);
        the worker's own account then replaces the registry's."""
        worker = self._workers.get(identity)
        if worker is None or worker.job == reported or now - worker.assigned_at <= grace:
            return None
        believed, worker.job, worker.assigned_at = worker.job, reported, now
        return believed

    def release(self, identity: bytes, job_id: str) -> None:
        """The worker finished `job_id`; it goes to the back of the idle queue."""
        worker = self._workers.get(identity)
        if worker is not None and worker.job is not None and worker.job.job_id == job_id:
            self._workers.move_to_end(identity)
            worker.job = None

    def remove(self, identity: bytes) -> Worker | None:
        return self._workers.pop(identity, None)

    def idle(self) -> list[Worker]:
        return [worker for worker in self._workers.values() if worker.job is None]

    def owner_of(self, job_id: str) -> Worker | None:
        return next((w for w in self._workers.values() if w.job is not None and w.job.job_id == job_id), None)

    def expire(self, now: float) -> list[Worker]:
        """Forgets and returns the workers whose heartbeats stopped."""
        dead = [worker for worker in self._workers.values() if worker.expires_at <= now]
        for worker in dead:
            del self._workers[worker.identity]
        return dead

    def identities(self) -> list[bytes]:
        return list(self._workers)
