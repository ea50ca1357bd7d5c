"""Hostile and confused peers on the render bus, against the real stack while it renders:
garbage, unknown tags, a foreign protocol version, outcomes and progress of jobs that do not
exist or of attempts that are not running, and a second worker under an existing worker's id.
Each is logged, counted in /readyz "bus_rejected" and ignored; the API and the real jobs
carry on untouched."""

import os
import socket
import subprocess
import sys
import time
from collections import Counter

import httpx
import msgspec
import zmq
from sqlalchemy import text

from libs.contracts.bus import (
    PROTOCOL_VERSION,
    Ack,
    Incompatible,
    JobFinished,
    Outcome,
    Progress,
    Ready,
    RenderedAssets,
    api_command_codec,
    progress_codec,
    renderer_codec,
)
from libs.contracts.codes import ErrorCode, Step
from tests.client import approved_script, new_video_id, start_render
from tests.faults.fake_renderer import SLOW_JOINER_SEC, bus_sockets, zmq_context
from tests.integration.test_render_jobs_api import SHORT_SCRIPT, wait_running, wait_terminal

UNKNOWN_JOB = "job-00000000-0000-0000-0000-000000000000"
COMMANDS = api_command_codec()


def job_url(video_id: str, job_id: str) -> str:
    return f"/api/v2/videos/{video_id}/render-jobs/{job_id}"


def submit(http: httpx.Client, fault_stack) -> tuple[str, str]:
    video_id = new_video_id("hygiene")
    job_id = start_render(http, video_id, approved_script(http, video_id, SHORT_SCRIPT))["job_id"]
    fault_stack.accepted.add(job_id)
    return video_id, job_id


def rejected(http: httpx.Client) -> Counter[str]:
    return Counter(http.get("/readyz").json()["bus_rejected"])


def wait_rejected(http: httpx.Client, at_least: Counter[str], timeout: float = 5.0) -> Counter[str]:
    deadline = time.monotonic() + timeout
    while not (counted := rejected(http)) >= at_least:
        assert time.monotonic() < deadline, f"bus_rejected is {dict(counted)}, expected at least {dict(at_least)}"
        time.sleep(0.1)
    return counted


def assert_alive(http: httpx.Client, fault_stack) -> None:
    assert fault_stack.api.poll() is None, "the API exited"
    assert http.get("/healthz").status_code == 200


def wait_all_workers_registered(http: httpx.Client, fault_stack, timeout: float = 10.0) -> None:
    """/readyz turns 200 with the first worker; the others may still be reconnecting."""
    deadline = time.monotonic() + timeout
    while http.get("/readyz").json()["renderers"] < fault_stack.workers:
        assert time.monotonic() < deadline, "not every worker registered"
        time.sleep(0.1)


def finish_unacknowledged(dealer: zmq.Socket, outcome: JobFinished) -> None:
    """Sends a stray outcome; the broker acknowledges it anyway, so a worker stops resending it."""
    dealer.send(COMMANDS.encode(outcome))
    assert dealer.poll(5000), f"no Ack for {outcome}"
    reply = renderer_codec().decode(dealer.recv())
    if isinstance(reply, Incompatible):  # the answer to the foreign-version Ready sent before
        assert dealer.poll(5000), f"no Ack for {outcome}"
        reply = renderer_codec().decode(dealer.recv())
    assert reply == Ack(job_id=outcome.job_id, attempt=outcome.attempt)


def knock_with_http(port: int) -> None:
    """Bytes that are no ZMTP greeting, as from a browser pointed at the bus port: libzmq
    drops the connection and nothing reaches the broker."""
    with socket.create_connection(("127.0.0.1", port)) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: render-bus\r\n\r\n")


def test_garbage_and_stray_bus_messages_are_counted_and_ignored_while_jobs_render(fault_stack):
    with fault_stack.client(timeout=30) as http, zmq_context() as context:
        wait_all_workers_registered(http, fault_stack)
        first, second = submit(http, fault_stack), submit(http, fault_stack)
        wait_running(http, *first)
        before = rejected(http)
        dealer, pub = bus_sockets(context, fault_stack, "hostile-peer")

        for port in (fault_stack.command_port, fault_stack.event_port):
            knock_with_http(port)
        dealer.send(os.urandom(64))
        dealer.send(msgspec.msgpack.encode({"type": "self_destruct", "protocol_version": PROTOCOL_VERSION, "job_id": first[1]}))
        dealer.send(COMMANDS.encode(Ready(worker_id="hostile-peer", engines=["espeak"], protocol_version=99)))
        dealer.send_multipart([b"\x00", os.urandom(16), COMMANDS.encode(Ready(worker_id="hostile-peer"))])
        finish_unacknowledged(
            dealer, JobFinished(job_id=UNKNOWN_JOB, attempt=1, outcome=Outcome.SUCCEEDED, assets=RenderedAssets(duration_sec=1.0))
        )
        # The running job is on attempt 1: an outcome of any other attempt must not end it.
        finish_unacknowledged(
            dealer,
            JobFinished(
                job_id=first[1], attempt=0, outcome=Outcome.FAILED, error_code=ErrorCode.RENDER_FAILED, error_message="forged"
            ),
        )
        during = submit(http, fault_stack)
        time.sleep(SLOW_JOINER_SEC)
        pub.send(os.urandom(48))
        pub.send_multipart([b"two", b"frames"])  # read frame by frame: two undecodable events
        for index in range(3):
            pub.send(
                progress_codec().encode(
                    Progress(
                        job_id=f"job-unknown-{index}",
                        video_id="nowhere",
                        attempt=1,
                        seq=1,
                        step=Step.GENERATE_TTS,
                        progress=50,
                        ts=time.time(),
                    )
                )
            )

        # Real workers send nothing undecodable, so these counts are exact; they may add stale ones.
        exact = Counter(undecodable_command=2, protocol_version=1, frame_count=1, undecodable_progress=3)
        counted = wait_rejected(http, before + exact + Counter(stale_outcome=2, stale_progress=3))
        assert Counter({reason: counted[reason] - before[reason] for reason in exact}) == exact, dict(counted)
        assert_alive(http, fault_stack)
        assert http.get("/readyz").json()["renderers"] == fault_stack.workers, "a hostile peer was registered"

        jobs = [wait_terminal(http, *job) for job in (first, second, during)]
        assert [(job["status"], job["attempt"], job["error_code"]) for job in jobs] == [("SUCCEEDED", 1, None)] * 3
        ended = http.get(job_url(*first)).json()
        for late in (Outcome.FAILED, Outcome.CANCELED):
            finish_unacknowledged(dealer, JobFinished(job_id=first[1], attempt=1, outcome=late, error_message="replayed"))
        wait_rejected(http, counted + Counter(stale_outcome=2))
        assert http.get(job_url(*first)).json() == ended, "a replayed outcome changed an ended job"
        with fault_stack.job_table() as db:
            assert set(db.execute(text("SELECT job_id FROM render_jobs")).scalars()) == fault_stack.accepted
        assert_alive(http, fault_stack)


def test_a_second_worker_under_an_existing_id_is_shut_out_and_the_first_keeps_working(fault_stack, tmp_path):
    workers = fault_stack.worker_pids()
    victim = sorted(workers)[0]
    impostor_log = tmp_path / "impostor.log"
    with fault_stack.client(timeout=30) as http, open(impostor_log, "w") as log:
        # Whichever connection of a routing id reaches the ROUTER first keeps it.
        wait_all_workers_registered(http, fault_stack)
        impostor = subprocess.Popen(
            [sys.executable, "-m", "services.renderer.worker", "--worker-id", victim],
            cwd=fault_stack.data_dir,
            env=fault_stack.env,
            stderr=log,
        )
        try:
            jobs = [submit(http, fault_stack) for _ in range(fault_stack.workers)]
            ended = [wait_terminal(http, *job) for job in jobs]
            assert [(job["status"], job["attempt"]) for job in ended] == [("SUCCEEDED", 1)] * len(jobs)
            assert {job["attempts"][0]["worker_id"] for job in ended} == set(workers), "the first worker stopped taking work"
            deadline = time.monotonic() + 10
            # libzmq's ROUTER (without ROUTER_HANDOVER) drops whatever a second connection of a
            # routing id sends: the impostor's Ready and heartbeats never reach the broker.
            while "broker silent" not in impostor_log.read_text():
                assert time.monotonic() < deadline, "the impostor heard from the broker"
                time.sleep(0.2)
            assert impostor.poll() is None, "the impostor crashed"
        finally:
            impostor.terminate()  # it says Disconnect: that must not unregister the real worker either
            impostor.wait(timeout=10)
        time.sleep(0.5)
        assert http.get("/readyz").json()["renderers"] == fault_stack.workers
        assert fault_stack.worker_pids() == workers, "a real worker was replaced"
        assert "rendering" not in impostor_log.read_text()
        assert_alive(http, fault_stack)
