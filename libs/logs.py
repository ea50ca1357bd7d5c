"""JSON log lines for the API and the renderer: one object per line with `ts`, `level`,
`logger`, `message`, and the `job_id`/`video_id` of the work being done when there is one.

The ids come from `log_context` (a context variable, so they follow a render into its
asyncio tasks and `asyncio.to_thread` threads) or from a call's `extra={...}`.
"""

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

_RECORD_ATTRIBUTES = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
"""What every LogRecord has; anything else on a record came from a call's `extra`..."""
_NOT_FIELDS = _RECORD_ATTRIBUTES | {"color_message"}
"""...except uvicorn's ANSI-coloured copy of the message."""

_context: contextvars.ContextVar[dict[str, object]] = contextvars.ContextVar("log_context", default={})


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Every line logged inside carries `fields` (added to any outer context)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


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
            **_context.get(),
        }
        line.update((name, value) for name, value in record.__dict__.items() if name not in _NOT_FIELDS)
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            # uvicorn's access line as fields a log pipeline can filter on.
            line["client"], line["method"], line["path"], _, line["status"] = record.args
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_json_logging(level: str = "INFO", **static_fields: object) -> None:
    """Root logs JSON lines to stderr; uvicorn's loggers (whose levels its `--log-level` set)
    lose their own text handlers and go through the same one."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(**static_fields))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # httpx logs every request it makes at INFO; callers log what the request meant instead.
    logging.getLogger("httpx").setLevel(logging.WARNING)
