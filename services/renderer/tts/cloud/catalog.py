"""A provider's voice list, fetched once per process, with a static list while it cannot be."""

import logging
import threading
import time
from collections.abc import Callable

from libs.contracts.bus import VoiceInfo

log = logging.getLogger(__name__)

REFETCH_AFTER_FAILURE_SEC = 300.0
"""A failed list call is tried again this much later, not on every catalog request."""


class VoiceCatalog:
    def __init__(self, provider: str, fetch: Callable[[], list[VoiceInfo]], fallback: list[VoiceInfo]) -> None:
        self._provider = provider
        self._fetch = fetch
        self._fallback = fallback
        self._lock = threading.Lock()
        self._fetched: list[VoiceInfo] | None = None
        self._failed_at: float | None = None

    def voices(self) -> list[VoiceInfo]:
        with self._lock:
            if self._fetched is not None:
                return self._fetched
            if self._failed_at is not None and time.monotonic() - self._failed_at < REFETCH_AFTER_FAILURE_SEC:
                return self._fallback
            try:
                self._fetched = self._fetch() or self._fallback
            except Exception as error:  # noqa: BLE001 - whatever broke the list call, the static list still works
                self._failed_at = time.monotonic()
                log.warning("%s: cannot list voices (%s); offering a static list", self._provider, error)
                return self._fallback
            return self._fetched
