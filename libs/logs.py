"""Log lines for the API and the renderer, in one of two formats (LOG_FORMAT):

- json: one object per line with `ts`, `level`, `logger`, `message`, and the `job_id`/`video_id`
  of the work being done when there is one, for systemd's journal and log pipelines;
- text: one short line per record for a person at a terminal (`./scripts/run`).

The ids come from `log_context` (a context variable, so they follow a render into its
asyncio tasks and `asyncio.to_thread` threads) or from a call's `extra={...}`. Both formats
mask credentials (libs/redaction.py) in everything they write.
"""

import contextlib
import contextvars
import enum
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO

from libs.redaction import redact

_RECORD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
"""What every LogRecord has; anything else on a record came from a call's `extra`..."""
_NOT_FIELDS = _RECORD_ATTRIBUTES | {"color_message"}
"""...except uvicorn's ANSI-coloured copy of the message."""

# Read-only: log_context sets a new mapping, it never changes the one it found.
_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar("log_context", default=MappingProxyType({}))


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Every line logged inside carries `fields` (added to any outer context)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def log_format_from_env(stream: IO[str] | None = None) -> LogFormat:
    """LOG_FORMAT when set; otherwise text when the log stream (stderr) is a terminal, where a
    person reads it, and JSON for the journal, pipes and files, where a program does."""
    chosen = os.environ.get("LOG_FORMAT")
    if chosen:
        try:
            return LogFormat(chosen.strip().lower())
        except ValueError:
            raise ValueError(f"LOG_FORMAT must be text or json, not {chosen!r}") from None
    return LogFormat.TEXT if (stream or sys.stderr).isatty() else LogFormat.JSON


def _fields(record: logging.LogRecord) -> dict[str, object]:
    """The record's context and `extra` fields (a call's `extra` wins over the context)."""
    fields = dict(_context.get())
    fields.update((name, value) for name, value in record.__dict__.items() if name not in _NOT_FIELDS)
    return fields


class JsonFormatter(logging.Formatter):
    def __init__(self, **static_fields: object) -> None:
        super().__init__()
        self._static = static_fields

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **self._static,
            **_fields(record),
        }
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            # uvicorn's access line as fields a log pipeline can filter on.
            line["client"], line["method"], line["path"], _, line["status"] = record.args
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """`11:45:32 INFO  api.publisher   job RUNNING: Attempt 1/3 started [job-…]`: local time, level,
    short logger name, message, and the job id unless the message already names it. The
    service needs no column: the short logger name starts with it."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        line = f"{clock} {record.levelname:<5} {_short_name(record.name):<15} {message}"
        job_id = _fields(record).get("job_id")
        if job_id and str(job_id) not in message:
            line += f" [{job_id}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def _short_name(logger: str) -> str:
    """`services.api.progress.publisher` -> `api.publisher` (service and module); a library's
    logger -> its package (`uvicorn.access` -> `uvicorn`)."""
    parts = logger.split(".")
    if parts[0] == "services" and len(parts) > 2:
        return f"{parts[1]}.{parts[-1]}"
    return parts[0]


def configure_logging(level: str, log_format: LogFormat, **static_fields: object) -> None:
    """Root logs `log_format` lines to stderr; uvicorn's loggers (whose levels its `--log-level`
    set) lose their own text handlers and go through the same one. `static_fields` (the service,
    a worker's id) are JSON fields; a text line's short logger name already says the service."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(TextFormatter() if log_format is LogFormat.TEXT else JsonFormatter(**static_fields))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # httpx logs every request it makes at INFO; callers log what the request meant instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
