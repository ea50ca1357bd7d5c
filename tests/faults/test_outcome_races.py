"""The race suite: scripted renderer peers drive the real API through every order of the six
things that can meet at the end of an attempt, and every outcome must count exactly once.

Each attempt a peer is given runs one order of:
- FINISH, RESEND: the attempt's JobFinished(SUCCEEDED) (whichever comes first is the outcome,
  the other a resend of the same message);
- PROGRESS: the attempt's last Progress over PUB/SUB (the outcome also carries it);
- HEARTBEAT: Heartbeat(running_job=None): before the outcome it is one the worker sent before
  the Render reached it (renders_received one short), after it the honest "I am idle";
- CANCEL: an HTTP cancel (after an outcome, once that outcome is acknowledged, so the order
  the API saw is the order written);
- DEADLINE: the attempt's deadline passes and the broker's clock acts on it.

Whichever of outcome, cancel and deadline comes first decides the attempt, and the API must
agree: the outcome wins (job SUCCEEDED at that attempt, never rendered again), or the cancel
(job CANCELED, the attempt's record closed when the worker reports), or the deadline (attempt
FAILED TIMEOUT, the job retried). Besides: no Render reaches a peer that is still busy, and the
store applied exactly one outcome per attempt (its verdict counter on /metrics).
"""

import itertools
import json
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum

import httpx
import pytest
from sqlalchemy import select

from libs.contracts.bus import (
    Ack,
    Cancel,
    Disconnect,
    Heartbeat,
    JobFinished,
    Outcome,
    Progress,
    Ready,
    Render,
    RenderedAssets,
    RunningJob,
    api_command_codec,
    progress_codec,
    renderer_codec,
)
from libs.contracts.codes import Step
from services.api.db.models import AttemptRow, JobRow
from services.renderer.outbox import Outbox
from tests.client import approved_script, new_video_id, start_render
from tests.faults.fake_renderer import HEARTBEAT_SEC, SLOW_JOINER_SEC, bus_sockets, zmq_context
from tests.faults.invariants import active_jobs
from tests.stack import ROOT

DEADLINE_SEC = 4.0
"""Each attempt's deadline (RENDER_TIMEOUT_BASE_SEC): the steps before DEADLINE in an order
take milliseconds, so this leaves seconds of slack on a loaded machine."""
PEERS = 40
NO_DEADLINE_RUNS = 3
EXPIRED = "renderer worker stopped answering"
DEADLINE_MARGIN_SEC = 0.5
SCRIPT = {"title": "race", "language": "ko", "scenes": [{"narration": "안녕하세요."}]}


class Event(Enum):
    FINISH = "finish"
    RESEND = "resend"
    PROGRESS = "progress"
    HEARTBEAT = "heartbeat"
    CANCEL = "cancel"
    DEADLINE = "deadline"


DECIDERS = {Event.FINISH: "outcome", Event.RESEND: "outcome", Event.CANCEL: "cancel", Event.DEADLINE: "deadline"}


def orders() -> list[tuple[Event, ...]]:
    """Every order of all six, and every order of the five without a deadline, three times."""
    everything = list(itertools.permutations(Event))
    quick = list(itertools.permutations([event for event in Event if event is not Event.DEADLINE]))
    return everything + quick * NO_DEADLINE_RUNS


def decider(order: tuple[Event, ...]) -> str:
    return next(DECIDERS[event] for event in order if event in DECIDERS)


@dataclass
class AttemptRecord:
    job_id: str
    video_id: str
    attempt: int
    order: tuple[Event, ...]
    cancel_status: int | None = None
    decided_at: float | None = None
    """Wall time of its first outcome or cancel: on a starved machine that can come after the
    deadline, and then the deadline rightly wins."""


@dataclass
class Violations:
    busy_renders: list[str] = field(default_factory=list)
    """Renders that reached a peer before it had reported its running attempt."""


class ScriptedPeer(threading.Thread):
    """A renderer worker that plays one order per Render it gets, heartbeating honestly."""

    def __init__(
        self, stack, identity: str, work: queue.Queue, records: list, violations: Violations, http_pool: ThreadPoolExecutor
    ) -> None:
        super().__init__(name=identity, daemon=True)
        self._stack = stack
        self.identity = identity
        self._work = work
        self._records = records
        self._violations = violations
        self._http_pool = http_pool
        """HTTP calls run there: a thread blocked on one would miss its heartbeats."""
        self._commands, self._replies, self._progress = api_command_codec(), renderer_codec(), progress_codec()
        self._renders: list[Render] = []
        self._renders_received = 0
        self._render_number: dict[tuple[str, int], int] = {}
        self._running: RunningJob | None = None
        self._acked: set[tuple[str, int]] = set()
        self._unacked = Outbox()
        """Outcomes resent until acknowledged, as every worker does (the API collapses resends of one still waiting)."""
        self._broker_beats = 0
        self._next_beat = 0.0
        self.stopping = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            # A new connection per request: an idle kept-alive one may be closed by the server under it.
            no_keepalive = httpx.Limits(max_keepalive_connections=0)
            with zmq_context() as context, self._stack.client(timeout=60, limits=no_keepalive) as http:
                self._dealer, self._pub = bus_sockets(context, self._stack, self.identity)
                time.sleep(SLOW_JOINER_SEC)  # PUB/SUB drops what is sent before it is joined
                self._send(Ready(worker_id=self.identity, engines=["espeak"]))
                self._serve(http)
                self._send(Disconnect())
        except BaseException as error:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.failure = error

    def _serve(self, http: httpx.Client) -> None:
        """Plays each attempt's order as soon as its Render arrives: once an attempt's outcome
        is sent the peer is idle and the broker may send the next Render while the rest of the
        previous order (a deadline to wait for, say) still plays, so orders play side by side."""
        playing: list[tuple[Iterator, Callable[[], bool]]] = []
        while not (self.stopping.is_set() and not playing and not self._renders):
            while self._renders:
                script = self._play(self._renders.pop(0), http)
                playing.append((script, next(script)))
            for index, (script, ready) in enumerate(playing):
                if ready():
                    playing[index] = (script, next(script, None))
            playing = [(script, ready) for script, ready in playing if ready is not None]
            self._pump(0.05)

    # --- one attempt -----------------------------------------------------------------------

    def _play(self, render: Render, http: httpx.Client) -> Iterator[Callable[[], bool]]:
        """One attempt's order, as a generator that yields what it waits for next."""
        try:
            order = self._work.get_nowait()
        except queue.Empty:
            order = (Event.FINISH,)  # orders used up: retries just finish
        record = AttemptRecord(render.job_id, render.video_id, render.attempt, order)
        self._records.append(record)
        started = time.monotonic()
        key = (render.job_id, render.attempt)
        first, last = self._progress_of(render, 1, Step.GENERATE_TTS), self._progress_of(render, 2, Step.PUBLISH_ASSETS)
        self._pub.send(self._progress.encode(first))
        outcome = JobFinished(
            job_id=render.job_id,
            attempt=render.attempt,
            outcome=Outcome.SUCCEEDED,
            assets=RenderedAssets(duration_sec=1.0),
            final_progress=[first, last],
        )
        sent = timed_out = False
        for event in order:
            if event in (Event.FINISH, Event.RESEND):
                record.decided_at = record.decided_at or time.time()
                self._send(outcome)
                self._unacked.put(outcome, time.monotonic())
                sent = True
                if self._running == RunningJob(job_id=render.job_id, attempt=render.attempt):
                    self._running = None
            elif event is Event.PROGRESS:
                self._pub.send(self._progress.encode(last))
            elif event is Event.HEARTBEAT:
                if sent:  # the honest one of an idle worker (or of the next Render it has by now)
                    self._send(Heartbeat(running_job=self._running, renders_received=self._renders_received))
                else:  # one it sent just before this Render arrived, read late
                    self._send(Heartbeat(running_job=None, renders_received=self._render_number[key] - 1))
            elif event is Event.CANCEL and not timed_out:
                # After a deadline the job has moved on to another attempt: not this race.
                if sent:
                    yield lambda: key in self._acked
                record.decided_at = record.decided_at or time.time()
                cancel = self._http_pool.submit(http.post, f"/api/v2/videos/{render.video_id}/render-jobs/{render.job_id}/cancel")
                yield cancel.done
                record.cancel_status = cancel.result().status_code
            elif event is Event.DEADLINE:
                timed_out = not sent and record.cancel_status is None
                if timed_out:
                    # Nothing else can end the attempt: wait for the broker to time it out.
                    yield self._polled(lambda: self._attempt_ended(http, render))
                else:
                    # The attempt has ended: let its (cleared) deadline pass under two broker ticks anyway.
                    yield lambda: time.monotonic() > started + DEADLINE_SEC
                    beats = self._broker_beats
                    yield lambda: self._broker_beats >= beats + 2  # noqa: B023 - polled until true before this resumes
        yield lambda: key in self._acked

    def _polled(self, check: Callable[[], bool], every: float = 0.2) -> Callable[[], bool]:
        """`check` (an HTTP request) run on the pool, at most once per `every` seconds: this
        thread keeps reading its socket and heartbeating meanwhile, however slow the API is."""
        asked: list = [None, 0.0]  # the check in flight, when the last one started

        def ready() -> bool:
            future, started = asked
            if future is not None and future.done():
                if future.result():
                    return True
                asked[0] = None
            if asked[0] is None and time.monotonic() - started >= every:
                asked[:] = [self._http_pool.submit(check), time.monotonic()]
            return False

        return ready

    @staticmethod
    def _attempt_ended(http: httpx.Client, render: Render) -> bool:
        attempts = http.get(f"/api/v2/videos/{render.video_id}/render-jobs/{render.job_id}").json()["attempts"]
        return len(attempts) >= render.attempt and attempts[render.attempt - 1]["outcome"] is not None

    @staticmethod
    def _progress_of(render: Render, seq: int, step: Step) -> Progress:
        return Progress(
            job_id=render.job_id,
            video_id=render.video_id,
            attempt=render.attempt,
            seq=seq,
            step=step,
            progress=50 * seq,
            message=step.value,
            ts=time.time(),
        )

    # --- the socket ----------------------------------------------------------------------

    def _pump(self, seconds: float) -> None:
        """Reads what the broker sends for up to `seconds`, heartbeating on time meanwhile."""
        until = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if now >= self._next_beat:
                self._send(Heartbeat(running_job=self._running, renders_received=self._renders_received))
                self._next_beat = now + HEARTBEAT_SEC
            for outcome in self._unacked.due(now):
                self._send(outcome)
            wait = min(until, self._next_beat, self._unacked.next_due() or until) - now
            if self._dealer.poll(max(0, int(wait * 1000))):
                self._receive(self._replies.decode(self._dealer.recv()))
            elif time.monotonic() >= until:
                return

    def _receive(self, message) -> None:
        match message:
            case Render():
                self._renders_received += 1
                self._render_number[(message.job_id, message.attempt)] = self._renders_received
                if self._running is not None:
                    self._violations.busy_renders.append(f"{message.job_id}/{message.attempt} while running {self._running}")
                else:
                    # Busy from the moment it has the Render, as a real worker: heartbeats say so.
                    self._running = RunningJob(job_id=message.job_id, attempt=message.attempt)
                self._renders.append(message)
            case Ack(job_id=job_id, attempt=attempt):
                self._acked.add((job_id, attempt))
                self._unacked.ack(job_id, attempt)
            case Heartbeat():
                self._broker_beats += 1
            case Cancel():
                pass  # these peers play their order whatever they are told

    def _send(self, message) -> None:
        self._dealer.send(self._commands.encode(message))


def outcome_counts(http: httpx.Client) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("slidereel_outcomes_total{"):
            verdict = line.split('verdict="')[1].split('"')[0]
            counts[verdict] = int(float(line.rsplit(" ", 1)[1]))
    return counts


RACE_ENV = {
    "RENDER_TIMEOUT_BASE_SEC": str(DEADLINE_SEC),
    "RENDER_TIMEOUT_PER_CHAR_SEC": "0",
    "RATE_LIMIT_WRITES_PER_MINUTE": "1000000",
}


# Over a thousand attempts, each waiting for its events: 3-4 min on a busy 2-core machine, more
# when other suites share it; pytest's 300 s default is no deadline this test is about.
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("fault_stack", [{"renderer": False, "env": RACE_ENV, "capture_logs": True}], indirect=True)
def test_every_order_of_the_end_of_an_attempt_counts_each_outcome_exactly_once(fault_stack):
    work: queue.Queue = queue.Queue()
    planned = orders()
    for order in planned:
        work.put(order)
    records: list[AttemptRecord] = []
    violations = Violations()
    with fault_stack.client(timeout=60) as http:
        # All jobs queue first (no peer yet): FIFO dispatch then feeds every peer at once.
        for _ in planned:
            video_id = new_video_id("race")
            fault_stack.accepted.add(start_render(http, video_id, approved_script(http, video_id, SCRIPT))["job_id"])
        http_pool = ThreadPoolExecutor(max_workers=PEERS)
        peers = [ScriptedPeer(fault_stack, f"race-w{index}", work, records, violations, http_pool) for index in range(PEERS)]
        for peer in peers:
            peer.start()
        deadline = time.monotonic() + 1200
        while active_jobs(fault_stack) and all(peer.is_alive() for peer in peers):
            assert time.monotonic() < deadline, f"{active_jobs(fault_stack)} jobs still active"
            time.sleep(0.2)
        for peer in peers:
            peer.stopping.set()
        for peer in peers:
            peer.join(timeout=120)
        http_pool.shutdown()
        assert not [peer.failure for peer in peers if peer.failure], [repr(peer.failure) for peer in peers if peer.failure]
        verdicts = outcome_counts(http)

    with fault_stack.job_table() as db:
        attempts = {
            (job_id, attempt): rest
            for job_id, attempt, *rest in db.execute(
                select(
                    AttemptRow.job_id,
                    AttemptRow.attempt,
                    AttemptRow.outcome,
                    AttemptRow.error_code,
                    AttemptRow.finished_at,
                    AttemptRow.error_message,
                    AttemptRow.started_at,
                )
            )
        }
        jobs = {
            job_id: (status, attempt)
            for job_id, status, attempt in db.execute(select(JobRow.job_id, JobRow.status, JobRow.attempt))
        }

    table: dict[str, Counter[str]] = {}
    wrong: list[str] = []
    for record in records:
        kind = decider(record.order)
        row = table.setdefault(kind, Counter())
        row["attempts"] += 1
        outcome, error_code, finished_at, error_message, started_at = attempts[(record.job_id, record.attempt)]
        status, last_attempt = jobs[record.job_id]
        deadline = started_at.timestamp() + DEADLINE_SEC
        if kind != "deadline" and record.decided_at > deadline - DEADLINE_MARGIN_SEC and error_code == "TIMEOUT":
            # The peer got to its first move only as the deadline fell: the deadline won, rightly.
            row["raced_deadline"] += 1
            continue
        if error_message == EXPIRED:
            # The peer itself went silent past the liveness (a starved test process): a lost
            # worker, rightly failed, and not an order of messages; counted, not judged.
            row["expired"] += 1
            continue
        if finished_at is None:
            wrong.append(f"{record}: attempt record left open")
        if kind == "outcome":
            if (outcome, status, last_attempt) != ("SUCCEEDED", "SUCCEEDED", record.attempt):
                row["lost"] += 1
                wrong.append(f"{record}: outcome lost ({outcome}, job {status} at attempt {last_attempt})")
            if record.cancel_status not in (None, 409):
                wrong.append(f"{record}: a finished job was canceled ({record.cancel_status})")
        elif kind == "cancel":
            if (outcome, status, record.cancel_status) != ("CANCELED", "CANCELED", 200):
                wrong.append(f"{record}: cancel not decisive ({outcome}, job {status}, HTTP {record.cancel_status})")
        elif (outcome, error_code) != ("FAILED", "TIMEOUT"):
            wrong.append(f"{record}: deadline not decisive ({outcome}, {error_code})")
    applied_expected = sum(
        1
        for record in records
        if decider(record.order) != "deadline"
        and attempts[(record.job_id, record.attempt)][1] != "TIMEOUT"
        and attempts[(record.job_id, record.attempt)][3] != EXPIRED
    )
    duplicated = sum(
        1
        for job_id, (status, _) in jobs.items()
        if status == "SUCCEEDED"
        and sum(1 for (attempt_job, _), (outcome, *_) in attempts.items() if attempt_job == job_id and outcome == "SUCCEEDED") > 1
    )
    summary = {
        "orders": len(planned),
        "attempts": len(records),
        "by_decider": {k: dict(v) for k, v in table.items()},
        "verdicts": dict(verdicts),
        "busy_renders": len(violations.busy_renders),
        "succeeded_twice": duplicated,
        "wrong": len(wrong),
    }
    artifacts = ROOT / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "outcome_races.json").write_text(json.dumps(summary, indent=2))
    print("outcome races:", json.dumps(summary))

    expired = sum(row["expired"] for row in table.values())
    raced = sum(row["raced_deadline"] for row in table.values())
    assert len(records) - expired - raced >= 1000, summary
    assert not wrong, "\n".join(wrong[:20])
    assert violations.busy_renders == [], violations.busy_renders[:10]
    assert duplicated == 0, summary
    # Exactly one each, except that an attempt whose worker expired after a cancel had its record
    # closed by the broker, so that worker's report is a resend.
    assert applied_expected - expired <= verdicts["applied"] <= applied_expected, (
        f"outcomes applied {verdicts['applied']} times for {applied_expected} attempts ({expired} peers expired)"
    )
