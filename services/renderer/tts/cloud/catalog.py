"""A provider's voice list, asked once per process (a worker tells its voices when it starts),
with a static list of well-known voices when the list call fails."""

import logging
import threading
from collections.abc import Callable

from libs.contracts.bus import VoiceInfo

log = logging.getLogger(__name__)


class VoiceCatalog:
    def __init__(self, provider: str, fetch: Callable[[], list[VoiceInfo]], fallback: list[VoiceInfo]) -> None:
        self._provider = provider
        self._fetch = fetch
        self._fallback = fallback
        self._lock = threading.Lock()
        self._listed: list[VoiceInfo] | None = None

    def voices(self) -> list[VoiceInfo]:
        with self._lock:
            if self._listed is None:
                try:
                    self._listed = self._fetch() or self._fallback
                except Exception as error:  # noqa: BLE001 - whatever broke the list call, the static list still works
                    log.warning("%s: cannot list voices (%s); offering a static list", self._provider, error)
                    self._listed = self._fallback
            return self._listed
