"""Abuse limits and browser hardening on the real API: per-subject write rate limit, per-subject
WebSocket cap, configured CORS origins and security headers on every response."""

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from services.api.auth.roles import Role
from tests.client import new_video_id
from tests.integration.test_render_jobs_api import SHORT_SCRIPT
from tests.stack import Stack

WRITES_PER_MINUTE = 5
SOCKETS_PER_SUBJECT = 2
ALLOWED_ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API alone (no renderer is needed to accept writes) with small limits."""
    running = Stack(
        data_dir=tmp_path_factory.mktemp("limited"),
        extra_env={
            "RATE_LIMIT_WRITES_PER_MINUTE": str(WRITES_PER_MINUTE),
            "WS_MAX_CONNECTIONS_PER_SUBJECT": str(SOCKETS_PER_SUBJECT),
            "CORS_ALLOWED_ORIGINS": f"{ALLOWED_ORIGIN}, https://admin.example",
        },
    )
    running.start_api()
    try:
        running.wait_alive()
        yield running
    finally:
        running.stop()


def client_of(stack: Stack, subject: str) -> httpx.Client:
    return stack.client(headers={"Authorization": f"Bearer {stack.token(Role.ADMIN, subject)}"}, timeout=30)


def open_progress(stack: Stack, subject: str) -> ClientConnection:
    """A progress socket of a video without jobs: it stays open until the client leaves."""
    token = stack.token(Role.VIEWER, subject)
    return connect(f"{stack.ws_url}/ws/videos/{new_video_id('ws')}/render-progress?token={token}", open_timeout=10)


def first_message(ws: ClientConnection) -> dict:
    return json.loads(ws.recv(timeout=10))


def connects_within(sockets: ExitStack, stack: Stack, subject: str, seconds: float) -> ClientConnection:
    """A new socket of `subject`, retried while the server is still releasing a closed one."""
    deadline = time.monotonic() + seconds
    while True:
        ws = sockets.enter_context(open_progress(stack, subject))
        if first_message(ws)["type"] == "connected":
            return ws
        ws.close()
        assert time.monotonic() < deadline, f"{subject} could not reconnect within {seconds} s"
        time.sleep(0.1)


def test_writes_beyond_the_limit_are_429_for_that_subject_only(limited):
    scripts = f"/api/v2/videos/{new_video_id('burst')}/scripts"
    render_jobs = scripts.replace("/scripts", "/render-jobs")
    with client_of(limited, "alice") as alice, client_of(limited, "bob") as bob:
        allowed = [
            alice.put(f"{scripts}/s1", json=SHORT_SCRIPT),
            alice.post(f"{scripts}/s1/approve"),
            alice.post(render_jobs, json={"script_id": "s1"}),
            alice.post(scripts, json=SHORT_SCRIPT),
            alice.put(f"{scripts}/s2", json=SHORT_SCRIPT),
        ]
        assert [response.status_code for response in allowed] == [201, 200, 202, 201, 201]
        refused = [
            alice.put(f"{scripts}/s3", json=SHORT_SCRIPT),
            alice.post(scripts, json=SHORT_SCRIPT),
            alice.post(f"{scripts}/s2/approve"),
            alice.post(render_jobs, json={"script_id": "s2"}),
        ]
        for response in refused:
            assert response.status_code == 429, response.text
            assert response.json()["error_code"] == "RATE_LIMITED"
            assert set(response.json()) == {"error_code", "message", "detail"}
            assert 1 <= int(response.headers["Retry-After"]) <= 60

        # Reads of the limited subject and writes of another one go through.
        assert alice.get(scripts).status_code == 200
        assert alice.get(render_jobs).status_code == 200
        assert bob.put(f"/api/v2/videos/{new_video_id('bob')}/scripts/s1", json=SHORT_SCRIPT).status_code == 201


def test_a_subject_gets_a_limited_number_of_progress_sockets_and_closing_one_frees_it(limited):
    with ExitStack() as sockets:
        held = [sockets.enter_context(open_progress(limited, "carol")) for _ in range(SOCKETS_PER_SUBJECT)]
        assert all(first_message(ws)["type"] == "connected" for ws in held)
        with open_progress(limited, "carol") as extra:
            assert first_message(extra)["error_code"] == "RATE_LIMITED"
            with pytest.raises(ConnectionClosed) as closed:
                extra.recv(timeout=10)
            assert closed.value.rcvd.code == 4429
        with open_progress(limited, "dave") as other_subject:
            assert first_message(other_subject)["type"] == "connected"

        held.pop().close()
        held.append(connects_within(sockets, limited, "carol", 5))

        # A client that vanishes without a close frame is released too.
        vanished = held.pop()
        vanished.socket.shutdown(socket.SHUT_RDWR)
        vanished.socket.close()
        connects_within(sockets, limited, "carol", 5)


def preflight(stack: Stack, origin: str) -> httpx.Response:
    return httpx.options(
        f"{stack.base_url}/api/v2/videos/v1/scripts/s1",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_cors_answers_configured_origins_only(limited):
    allowed = preflight(limited, ALLOWED_ORIGIN)
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "PUT" in allowed.headers["Access-Control-Allow-Methods"]

    assert "Access-Control-Allow-Origin" not in preflight(limited, "https://evil.example").headers

    with client_of(limited, "erin") as http:
        simple = http.get("/api/v2/videos/v1/scripts", headers={"Origin": ALLOWED_ORIGIN})
    assert simple.headers["Access-Control-Allow-Origin"] == ALLOWED_ORIGIN
    assert "retry-after" in simple.headers["Access-Control-Expose-Headers"].lower()


def test_without_configured_origins_there_are_no_cors_headers(stack):
    headers = preflight(stack, ALLOWED_ORIGIN).headers
    assert not [name for name in headers if name.lower().startswith("access-control-")], headers


API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


@pytest.mark.parametrize(
    ("path", "authenticated", "status", "resource_policy"),
    [
        ("/api/v2/videos/v1/scripts", True, 200, "same-origin"),
        ("/api/v2/videos/v1/scripts", False, 401, "same-origin"),
        ("/api/v2/videos/v1/scripts/missing", True, 404, "same-origin"),
        ("/healthz", False, 200, "same-origin"),
        ("/no/such/route", False, 404, "same-origin"),
        ("/assets/v1/job-x/video.mp4", False, 404, "cross-origin"),
    ],
)
def test_every_response_carries_the_security_headers(limited, path, authenticated, status, resource_policy):
    headers = {"Authorization": f"Bearer {limited.token(Role.VIEWER, 'frank')}"} if authenticated else {}
    response = httpx.get(f"{limited.base_url}{path}", headers=headers)
    assert response.status_code == status, response.text
    for name, value in API_HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    assert response.headers["Cross-Origin-Resource-Policy"] == resource_policy


def test_the_openapi_ui_is_not_blanked_by_the_api_policy(limited):
    response = httpx.get(f"{limited.base_url}/schema")
    assert response.status_code == 200
    assert "Content-Security-Policy" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
