"""Both processes log one JSON object per line, and a render's lines name its job and video."""

import json

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
    about_job = lambda lines: [l for l in lines if l.get("job_id") == job_id and l.get("video_id") == video_id]  # noqa: E731
    api_statuses = [line["message"].split(":")[0] for line in about_job(api)]
    assert api_statuses == ["job PENDING", "job RUNNING", "job SUCCEEDED"], api_statuses
    renderer_job_lines = about_job(renderer)
    assert {line["service"] for line in renderer_job_lines} == {"renderer"}
    assert any(line["message"].startswith("rendering") for line in renderer_job_lines)
    assert sum(line["message"].startswith("step ") for line in renderer_job_lines) == 7
    assert all(line["worker_id"] for line in renderer_job_lines)
