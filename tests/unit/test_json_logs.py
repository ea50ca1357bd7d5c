"""JSON log lines: context fields follow work into threads, `extra` fields are kept, uvicorn's
access line is split into fields and its coloured copy dropped."""

import asyncio
import json
import logging

from libs.logs import JsonFormatter, log_context


def formatted(record: logging.LogRecord) -> dict:
    return json.loads(JsonFormatter(service="test").format(record))


def record(name: str, message: str, args: tuple = (), **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_context_fields_reach_lines_logged_on_a_worker_thread():
    async def render() -> dict:
        with log_context(job_id="job-1", video_id="video-1"):
            return await asyncio.to_thread(lambda: formatted(record("r", "step %s", ("TTS",))))

    line = asyncio.run(render())
    assert line["message"] == "step TTS" and line["service"] == "test" and line["level"] == "INFO"
    assert line["job_id"] == "job-1" and line["video_id"] == "video-1"
    assert formatted(record("r", "outside")).get("job_id") is None


def test_extra_fields_are_kept_and_uvicorn_access_lines_become_fields():
    assert formatted(record("api", "done", job_id="job-2", attempt=3))["attempt"] == 3
    access = formatted(
        record(
            "uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("1.2.3.4:5", "GET", "/healthz", "1.1", 200), color_message="\x1b[1m…"
        )
    )
    assert (access["client"], access["method"], access["path"], access["status"]) == ("1.2.3.4:5", "GET", "/healthz", 200)
    assert "color_message" not in access
