"""Both processes log one JSON object per line, a render's lines name its job and video, and
no line holds a credential or a warning after a render followed over the WebSocket."""

import json

from websockets.sync.client import connect

from tests.client import approved_script, new_video_id, start_render, wait_terminal
from tests.stack import Stack

SCRIPT = {"title": "로그", "language": "ko", "scenes": [{"narration": "로그 시험입니다.", "slide": {"title": "로그"}}]}


def json_lines(text: str) -> list[dict]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # fails on any non-JSON line
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= line.keys(), line
    return lines


def test_api_and_renderer_log_json_lines_with_the_job_and_video(tmp_path):
    stack = Stack(data_dir=tmp_path, workers=1, capture_logs=True)
    with stack.running(), stack.client(timeout=30) as http:
        video_id = new_video_id("logs")
        job_id = start_render(http, video_id, approved_script(http, video_id, SCRIPT))["job_id"]
        assert wait_terminal(http, video_id, job_id)["status"] == "SUCCEEDED"

    api = json_lines(stack.log_path("api").read_text())
    renderer = json_lines(stack.log_path("renderer").read_text())
    about_job = lambda lines: [entry for entry in lines if entry.get("job_id") == job_id and entry.get("video_id") == video_id]  # noqa: E731
    api_statuses = [line["message"].split(":")[0] for line in about_job(api)]
    assert api_statuses == ["job PENDING", "job RUNNING", "job SUCCEEDED"], api_statuses
    renderer_job_lines = about_job(renderer)
    assert {line["service"] for line in renderer_job_lines} == {"renderer"}
    assert any(line["message"].startswith("rendering") for line in renderer_job_lines)
    assert sum(line["message"].startswith("step ") for line in renderer_job_lines) == 7
    assert all(line["worker_id"] for line in renderer_job_lines)


def test_a_render_followed_over_the_websocket_logs_no_token_and_no_warning(tmp_path):
    stack = Stack(data_dir=tmp_path, workers=1, capture_logs=True, api_log_level="info")
    token = stack.token()
    with stack.running(), stack.client(timeout=30) as http:
        video_id = new_video_id("secret")
        job_id = start_render(http, video_id, approved_script(http, video_id, SCRIPT))["job_id"]
        with connect(
            f"{stack.ws_url}/ws/videos/{video_id}/render-progress?job_id={job_id}&token={token}", open_timeout=10
        ) as socket:
            events = [json.loads(message) for message in socket]
        bearer = http.headers["authorization"].removeprefix("Bearer ")
    assert events[-1]["status"] == "SUCCEEDED"

    logs = {process: stack.log_path(process).read_text() for process in ("api", "renderer")}
    for process, text in logs.items():
        for secret in (token, token.split(".")[2], bearer, bearer.split(".")[2]):
            assert secret not in text, f"the {process} log holds a credential"
    handshakes = [line["message"] for line in json_lines(logs["api"]) if "WebSocket /ws/videos/" in line["message"]]
    assert len(handshakes) == 1, handshakes
    assert handshakes[0].endswith(f'"WebSocket /ws/videos/{video_id}/render-progress?job_id={job_id}&token=***" [accepted]')
    # The render's own lines: on a starved test machine the bus itself may warn (late heartbeats).
    warnings = [
        line
        for text in logs.values()
        for line in json_lines(text)
        if line["level"] not in ("DEBUG", "INFO") and line.get("job_id") == job_id
    ]
    assert warnings == []
