"""Which renderer workers are alive and what each is doing. Pure state, no I/O: the broker
feeds it messages and the clock, so its rules are unit-testable with a fake clock."""

from collections import OrderedDict
from dataclasses import dataclass, field

from libs.contracts.bus import RunningJob, VoiceInfo

FIRST_DEADLINE_LIVENESSES = 2
"""A worker that has just (re)registered may be replacing its connection on its own clock (it
did not hear this broker yet: a takeover, a restart). libzmq's ROUTER ignores a new connection
of a routing id while it holds the old one, and the worker notices only one liveness period
later, when it replaces the connection again. Its first deadline allows for that once."""


@dataclass
class Worker:
    identity: bytes
    """The DEALER's ROUTER identity: how the broker addresses it."""
    worker_id: str
    expires_at: float
    job: RunningJob | None = None
    engines: frozenset[str] = field(default_factory=frozenset)
    """The TTS engines it offers (from its Ready)."""
    renders_sent: int = 0
    """Renders this worker process has been sent, counted on its own scale (see Heartbeat)."""
    incarnation: str = ""
    """The worker process's random id from its Ready ("" from a worker that sends none)."""
    voices: tuple[VoiceInfo, ...] = ()
    """What it can speak (from its Ready; none yet when adopted from a heartbeat)."""
    previews_sent: int = 0


class WorkerRegistry:
    def __init__(self, liveness_sec: float) -> None:
        self._liveness_sec = liveness_sec
        # Insertion order doubles as the idle queue: the longest-idle worker gets the next job.
        self._workers: OrderedDict[bytes, Worker] = OrderedDict()
        # Render counts of workers that expired: one that comes back by a heartbeat read late
        # (sent before its last Renders arrived) must not be believed to have had fewer.
        self._renders_sent_to_expired: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._workers)

    def __contains__(self, identity: bytes) -> bool:
        return identity in self._workers

    def ready(
        self, identity: bytes, worker_id: str, job: RunningJob | None, now: float,
        engines: frozenset[str] = frozenset(), renders_received: int = 0, incarnation: str = "",
        voices: tuple[VoiceInfo, ...] = (),
    ) -> Worker:
        known = self._workers.pop(identity, None)
        sent = max(renders_received, self._renders_sent_to_expired.pop(identity, 0))
        if not voices and known is not None and incarnation and known.incarnation == incarnation:
            voices = known.voices  # a Ready sent before the process had listed them: it still has them
        worker = Worker(identity=identity, worker_id=worker_id, expires_at=now + FIRST_DEADLINE_LIVENESSES * self._liveness_sec,
                        job=job, engines=engines, renders_sent=sent, incarnation=incarnation, voices=voices)
        self._workers[identity] = worker
        return worker

    def predates_last_render(self, identity: bytes, incarnation: str, renders_received: int) -> bool:
        """A Ready of the registered worker process sent before the last Render it was sent
        reached it (it says Ready again when it re-creates its socket): it proves nothing about
        that Render's attempt, unlike a Ready of a new process, which has lost whatever the
        old one ran."""
        worker = self._workers.get(identity)
        return (worker is not None and bool(incarnation) and worker.incarnation == incarnation
                and renders_received < worker.renders_sent)

    def heartbeat(self, identity: bytes, now: float) -> Worker | None:
        worker = self._workers.get(identity)
        if worker is not None:
            # Never shortens the first deadline: a heartbeat the old connection sent just before
            # the worker replaced it proves nothing about the new one.
            worker.expires_at = max(worker.expires_at, now + self._liveness_sec)
        return worker

    def assign(self, identity: bytes, job: RunningJob) -> None:
        worker = self._workers.pop(identity)
        worker.job = job
        worker.renders_sent += 1
        self._workers[identity] = worker

    def disagreement(self, identity: bytes, reported: RunningJob | None, renders_received: int) -> RunningJob | None:
        """When the worker's heartbeat, sent after it received every Render it was sent, names
        another attempt than the registry's, the worker's own account replaces the registry's
        and the attempt the registry believed in (if any) is returned: the worker lost it.
        An older heartbeat (a Render still in flight to it) proves nothing and changes nothing."""
        worker = self._workers.get(identity)
        if worker is None:
            return None
        # A worker adopted from an old heartbeat starts with a count too low; it has been sent
        # at least what it says it received.
        worker.renders_sent = max(worker.renders_sent, renders_received)
        if worker.job == reported or renders_received < worker.renders_sent:
            return None
        believed, worker.job = worker.job, reported
        return believed

    def release(self, identity: bytes, attempt: RunningJob) -> bool:
        """The worker ended `attempt`; if that is what it runs, it goes to the back of the idle
        queue. An outcome of any other attempt (a late resend) frees nothing."""
        worker = self._workers.get(identity)
        if worker is None or worker.job != attempt:
            return False
        self._workers.move_to_end(identity)
        worker.job = None
        return True

    def refused(self, identity: bytes, attempt: RunningJob, running: RunningJob | None) -> None:
        """The worker would not take `attempt`: it runs what it says it runs."""
        worker = self._workers.get(identity)
        if worker is not None and worker.job == attempt:
            worker.job = running

    def remove(self, identity: bytes) -> Worker | None:
        return self._workers.pop(identity, None)

    def idle(self) -> list[Worker]:
        return [worker for worker in self._workers.values() if worker.job is None]

    def offered_engines(self) -> set[str]:
        return set().union(*(worker.engines for worker in self._workers.values()))

    def offer_voices(self, identity: bytes, voices: tuple[VoiceInfo, ...]) -> None:
        """The voices of a registered worker's Ready that changes nothing else (see
        `predates_last_render`). A process lists its voices once: a Ready without them is older."""
        worker = self._workers.get(identity)
        if worker is not None and voices:
            worker.voices = voices

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

    def owner_of(self, job_id: str) -> Worker | None:
        return next((w for w in self._workers.values() if w.job is not None and w.job.job_id == job_id), None)

    def expire(self, now: float) -> list[Worker]:
        """Forgets and returns the workers whose heartbeats stopped."""
        dead = [worker for worker in self._workers.values() if worker.expires_at <= now]
        for worker in dead:
            del self._workers[worker.identity]
            self._renders_sent_to_expired[worker.identity] = worker.renders_sent
        return dead

    def identities(self) -> list[bytes]:
        return list(self._workers)
