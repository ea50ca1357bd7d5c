"""Webhooks through the real API: a real local HTTP receiver gets each terminal event signed
the Standard Webhooks way, the same `webhook-id` on every retry, and an event still pending
when the API is killed is delivered after it starts again."""

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text

from tests.client import approved_script, new_video_id, start_render, wait_terminal
from tests.stack import Stack

SECRET = "whsec_" + base64.b64encode(b"slidereel webhook test secret 32").decode()
SCRIPT = {"title": "웹훅", "language": "ko", "scenes": [{"narration": "웹훅 시험입니다.", "slide": {"title": "웹훅"}}]}


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    answered: int
    received_at: float


class Receiver:
    """A real HTTP endpoint on a free port. It answers POSTs with the statuses planned (then
    200) and records every request. Until `listen()` its port is bound but refuses connections."""

    def __init__(self, planned: list[int] = ()) -> None:
        self.deliveries: list[Delivery] = []
        self._planned = list(planned)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver._lock:
                    status = receiver._planned.pop(0) if receiver._planned else 200
                    receiver.deliveries.append(
                        Delivery({k.lower(): v for k, v in self.headers.items()}, body, status, time.time())
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self._server.server_bind()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def listen(self) -> None:
        self._server.server_activate()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count:
            assert time.monotonic() < deadline, f"{len(self.deliveries)} deliveries, expected {count}"
            time.sleep(0.05)
        return list(self.deliveries)


def verify_signature(delivery: Delivery) -> None:
    """What a receiver does, written from the Standard Webhooks spec, not from our sender."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{delivery.headers['webhook-id']}.{delivery.headers['webhook-timestamp']}.".encode() + delivery.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.removeprefix("v1,") for part in delivery.headers["webhook-signature"].split(" ")]
    assert any(hmac.compare_digest(expected, candidate) for candidate in offered), delivery.headers
    assert abs(int(delivery.headers["webhook-timestamp"]) - delivery.received_at) < 60


def webhook_stack(tmp_path, *urls: str) -> Stack:
    return Stack(
        data_dir=tmp_path,
        workers=1,
        extra_env={
            "WEBHOOK_URLS": ",".join(urls),
            "WEBHOOK_SECRET": SECRET,
            "WEBHOOK_RETRY_BASE_SEC": "0.2",
        },
    )


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


def test_a_failing_receiver_gets_the_same_signed_event_until_it_accepts(tmp_path, receivers):
    flaky, healthy = Receiver(planned=[500, 500]), Receiver()
    receivers += [flaky, healthy]
    for receiver in receivers:
        receiver.listen()
    with webhook_stack(tmp_path, flaky.url, healthy.url).running() as stack:
        with stack.client(timeout=30) as http:
            video_id = new_video_id("hook")
            job = start_render(http, video_id, approved_script(http, video_id, SCRIPT))
            assert wait_terminal(http, video_id, job["job_id"])["status"] == "SUCCEEDED"
        tries = flaky.wait_for(3)
        [accepted] = healthy.wait_for(1)
        # Once a row is DELIVERED the sender never takes it again, and its count of tries is
        # every POST it made: nothing more can come after the 2xx.
        settled = wait_until_delivered(stack, job["job_id"])

    assert settled == {flaky.url: 3, healthy.url: 1}
    assert [d.answered for d in flaky.deliveries] == [500, 500, 200]
    assert len(healthy.deliveries) == 1
    assert len({d.headers["webhook-id"] for d in tries}) == 1, "webhook-id changed between retries"
    assert tries[0].headers["webhook-id"] != accepted.headers["webhook-id"], "one event per URL, each its own id"
    timestamps = [int(d.headers["webhook-timestamp"]) for d in tries]
    assert timestamps == sorted(timestamps)
    for delivery in [*tries, accepted]:
        verify_signature(delivery)
        assert delivery.headers["content-type"] == "application/json"
        assert delivery.body == tries[0].body, "the signed body changed between retries or URLs"
    event = json.loads(accepted.body)
    assert event["type"] == "render_job.succeeded"
    assert event["data"]["job_id"] == job["job_id"] and event["data"]["video_id"] == video_id
    assert event["data"]["status"] == "SUCCEEDED"
    assert event["data"]["assets"]["video_url"].endswith(f"/assets/{video_id}/{job['job_id']}/video.mp4")


def test_an_event_pending_when_the_api_dies_is_delivered_after_it_restarts(tmp_path, receivers):
    receiver = Receiver()  # bound, not listening yet: connections are refused
    receivers.append(receiver)
    stack = webhook_stack(tmp_path, receiver.url)
    stack.start_api()  # no renderer: the job waits PENDING until it is canceled
    try:
        stack.wait_alive()
        with stack.client(timeout=30) as http:
            video_id = new_video_id("restart")
            job = start_render(http, video_id, approved_script(http, video_id, SCRIPT))
            assert http.post(f"/api/v2/videos/{video_id}/render-jobs/{job['job_id']}/cancel").json()["status"] == "CANCELED"
        webhook_id = wait_for_failed_tries(stack, job["job_id"], at_least=2)
        stack.kill_api()
        receiver.listen()
        restarted_at = time.time()
        stack.start_api()
        [delivery] = receiver.wait_for(1)
        stack.wait_alive()
    finally:
        stack.stop()

    assert delivery.received_at > restarted_at
    assert delivery.headers["webhook-id"] == webhook_id
    verify_signature(delivery)
    event = json.loads(delivery.body)
    assert event["type"] == "render_job.canceled" and event["data"]["job_id"] == job["job_id"]
    assert outbox_row(stack, job["job_id"])[2] == "DELIVERED"


def outbox_row(stack: Stack, job_id: str) -> tuple[str, int, str] | None:
    """(webhook_id, attempts, status) of the job's outbox row, read from the job table."""
    with stack.job_table() as db:
        found = db.execute(
            text("SELECT webhook_id, attempts, status FROM webhook_outbox WHERE job_id = :job_id"), {"job_id": job_id}
        ).first()
        return tuple(found) if found else None


def wait_until_delivered(stack: Stack, job_id: str, timeout: float = 20.0) -> dict[str, int]:
    """The tries of each of the job's outbox rows (by URL), once every one of them is DELIVERED."""
    deadline = time.monotonic() + timeout
    while True:
        with stack.job_table() as db:
            rows = db.execute(
                text("SELECT url, attempts, status FROM webhook_outbox WHERE job_id = :job_id"), {"job_id": job_id}
            ).all()
        if rows and all(status == "DELIVERED" for _, _, status in rows):
            return {url: attempts for url, attempts, _ in rows}
        assert time.monotonic() < deadline, f"outbox rows {rows}"
        time.sleep(0.1)


def wait_for_failed_tries(stack: Stack, job_id: str, at_least: int, timeout: float = 20.0) -> str:
    """The outbox row's id once the API has tried (and failed) `at_least` times."""
    deadline = time.monotonic() + timeout
    while (found := outbox_row(stack, job_id)) is None or found[1] < at_least:
        assert time.monotonic() < deadline, f"outbox row {found}"
        time.sleep(0.1)
    assert found[2] == "PENDING"
    return found[0]
