"""One engine per configuration per process: `get_engine` builds an engine for every job, but the
circuit breaker, the request rate cap and the connection pool must be shared by all of them."""

import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

Engine = TypeVar("Engine")

_lock = threading.Lock()
_instances: dict[Hashable, object] = {}


def one_per_process(key: Hashable, build: Callable[[], Engine]) -> Engine:
    """The instance built for `key` in this process, built on first use."""
    with _lock:
        if key not in _instances:
            _instances[key] = build()
        return _instances[key]  # type: ignore[return-value]
