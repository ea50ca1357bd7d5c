"""Text log lines for a person: short, one line, with the job id; the format is text at a
terminal and JSON anywhere else unless LOG_FORMAT says otherwise."""

import io
import logging
import re

import pytest

from libs.logs import LogFormat, TextFormatter, log_context, log_format_from_env


def line_of(logger: str, message: str, args: tuple = (), level: int = logging.INFO, **extra: object) -> str:
    record = logging.LogRecord(logger, level, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return TextFormatter().format(record)


def test_a_text_line_has_time_level_short_logger_message_and_job_id():
    with log_context(job_id="job-1", video_id="video-1", attempt=1):
        line = line_of("services.api.progress.publisher", "job %s: %s", ("RUNNING", "Attempt 1/3 started"))
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO  api\.publisher +job RUNNING: Attempt 1/3 started \[job-1\]", line), line
    assert "video-1" not in line and "attempt" not in line


def test_a_text_line_names_the_job_once_and_only_when_there_is_one():
    assert line_of("services.renderer.worker", "rendering %s attempt %d", ("job-2", 1), job_id="job-2").endswith(
        "renderer.worker rendering job-2 attempt 1"
    )
    assert line_of("services.api.dispatch.broker", "worker %s missed %d heartbeats", ("w1", 3), level=logging.WARNING).endswith(
        " WARNING api.broker      worker w1 missed 3 heartbeats"
    )
    assert line_of("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "GET", "/healthz", "1.1", 200)).endswith(
        ' INFO  uvicorn         127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200'
    )


class Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self._terminal = terminal

    def isatty(self) -> bool:
        return self._terminal


def test_log_format_is_text_at_a_terminal_and_json_elsewhere(monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert log_format_from_env(Stream(terminal=True)) is LogFormat.TEXT
    assert log_format_from_env(Stream(terminal=False)) is LogFormat.JSON


def test_log_format_setting_overrides_the_terminal_check(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert log_format_from_env(Stream(terminal=True)) is LogFormat.JSON
    monkeypatch.setenv("LOG_FORMAT", "Text")
    assert log_format_from_env(Stream(terminal=False)) is LogFormat.TEXT
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="LOG_FORMAT must be text or json"):
        log_format_from_env(Stream(terminal=False))
