"""Bearer tokens and ordered roles on the real API (SPEC §4 Auth)."""

import base64
import json
import time
from datetime import timedelta

import httpx
import jwt
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from libs.tokens import Role, mint
from tests.client import new_video_id
from tests.integration.test_render_jobs_api import SHORT_SCRIPT


def unsigned(payload: dict) -> str:
    """A token with `alg: none`: a header and a payload, no signature."""

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def bad_tokens(secret: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "mallory", "iat": now, "exp": now + 3600, "role": "admin"}
    return {
        "expired": jwt.encode({**claims, "exp": now - 10}, secret, algorithm="HS256"),
        "malformed": "not.a.token",
        "garbage": "x" * 40,
        "wrong signature": jwt.encode(claims, "another-secret-of-enough-length-123", algorithm="HS256"),
        "alg none": unsigned(claims),
        "unknown role": jwt.encode({**claims, "role": "overlord"}, secret, algorithm="HS256"),
        "no role": jwt.encode({k: v for k, v in claims.items() if k != "role"}, secret, algorithm="HS256"),
    }


@pytest.mark.parametrize("kind", ["expired", "malformed", "garbage", "wrong signature", "alg none", "unknown role", "no role"])
def test_every_kind_of_bad_token_is_401(stack, kind):
    token = bad_tokens(stack.secret)[kind]
    response = httpx.get(f"{stack.base_url}/api/v2/videos/v1/render-jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, (kind, response.text)
    assert response.json()["error_code"] == "UNAUTHORIZED"


def test_missing_token_is_401_but_health_assets_and_schema_are_open(stack):
    response = httpx.get(f"{stack.base_url}/api/v2/videos/v1/scripts")
    assert response.status_code == 401 and response.json()["error_code"] == "UNAUTHORIZED"
    for path in ("/healthz", "/readyz", "/schema/openapi.json"):
        assert httpx.get(f"{stack.base_url}{path}").status_code == 200, path
    assert httpx.get(f"{stack.base_url}/assets/v1/job-x/video.mp4").status_code == 404  # not 401


@pytest.mark.parametrize(
    ("role", "read", "write", "render", "approve"),
    [
        (Role.VIEWER, 200, 403, 403, 403),
        (Role.EDITOR, 200, 201, 409, 403),
        (Role.APPROVER, 200, 201, 409, 200),
        (Role.ADMIN, 200, 201, 409, 200),
    ],
)
def test_roles_are_ordered(stack, role, read, write, render, approve):
    video_id = new_video_id(role.name.lower())
    with stack.client(role=role, timeout=30) as http:
        assert http.get(f"/api/v2/videos/{video_id}/scripts").status_code == read
        written = http.put(f"/api/v2/videos/{video_id}/scripts/s1", json=SHORT_SCRIPT)
        assert written.status_code == write, written.text
        if write == 403:
            assert written.json()["error_code"] == "FORBIDDEN"
            return
        assert written.json()["created_by"] == "tests", "created_by must be the token subject"
        # A DRAFT script: an editor reaches the policy check (409), a viewer never gets that far.
        assert http.post(f"/api/v2/videos/{video_id}/render-jobs", json={"script_id": "s1"}).status_code == render
        assert http.post(f"/api/v2/videos/{video_id}/scripts/s1/approve").status_code == approve


def test_websocket_takes_the_token_from_the_query_and_refuses_without(stack):
    with connect(stack.progress_url("nobody", "?job_id=job-x"), open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["error_code"] == "JOB_NOT_FOUND"
    for url in (
        f"{stack.ws_url}/ws/videos/nobody/render-progress",
        f"{stack.ws_url}/ws/videos/nobody/render-progress?token={bad_tokens(stack.secret)['alg none']}",
    ):
        # Refused before the upgrade; uvicorn answers a handshake closed before accept with 403.
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=10)
        assert refused.value.response.status_code == 403


def test_a_websocket_ticket_opens_progress_streams_only_and_only_briefly(stack):
    with stack.client(role=Role.VIEWER, timeout=30) as http:
        issued = http.post("/api/v2/ws-tickets")
        assert http.post("/api/v2/ws-tickets", headers={"Authorization": ""}).status_code == 401
    assert issued.status_code == 201, issued.text
    ticket = issued.json()["ticket"]
    claims = jwt.decode(ticket, stack.secret, algorithms=["HS256"])
    assert claims["extras"] == {"role": "viewer", "purpose": "websocket"} and claims["exp"] - claims["iat"] <= 60, claims

    progress = f"{stack.ws_url}/ws/videos/nobody/render-progress?job_id=job-x"
    with connect(f"{progress}&ticket={ticket}", open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["error_code"] == "JOB_NOT_FOUND"
    # Not a bearer token, neither in the header nor as `?token=`...
    assert httpx.get(f"{stack.base_url}/api/v2/videos", headers={"Authorization": f"Bearer {ticket}"}).status_code == 401
    refused = [
        f"{progress}&token={ticket}",
        # ...a bearer token is not a ticket, and an expired ticket opens nothing.
        f"{progress}&ticket={stack.token(Role.VIEWER)}",
        f"{progress}&ticket={mint(stack.secret, 'tests', Role.VIEWER, timedelta(seconds=-1), purpose='websocket')}",
    ]
    for url in refused:
        with pytest.raises(InvalidStatus) as refusal:
            connect(url, open_timeout=10)
        assert refusal.value.response.status_code == 403, url


def test_only_an_admin_runs_operations(stack):
    with stack.client(role=Role.APPROVER, timeout=30) as http:
        refused = http.post("/api/v2/ops/ttl-sweep")
        assert refused.status_code == 403 and refused.json()["error_code"] == "FORBIDDEN"
    with stack.client(role=Role.ADMIN, timeout=30) as http:
        report = http.post("/api/v2/ops/ttl-sweep")
        assert report.status_code == 200 and set(report.json()) == {
            "removed_jobs",
            "removed_media",
            "removed_staging",
            "removed_deck_imports",
        }
