"""How hard a cloud engine may push its provider, and for how long one synthesis may try."""

import math
import time
from dataclasses import dataclass

from services.renderer.settings import RendererSettings


@dataclass(frozen=True)
class CloudLimits:
    concurrency: int
    """Sentences of one synthesis in flight at once."""
    requests_per_second: float
    """Requests started per second by one engine in this process; 0 or less: no cap."""
    request_timeout_sec: float
    circuit_failures: int
    circuit_open_sec: float

    @classmethod
    def from_settings(cls, settings: RendererSettings) -> "CloudLimits":
        return cls(
            concurrency=max(1, settings.tts_concurrency),
            requests_per_second=settings.tts_requests_per_second,
            request_timeout_sec=settings.tts_request_timeout_sec,
            circuit_failures=max(1, settings.tts_circuit_failures),
            circuit_open_sec=settings.tts_circuit_open_sec,
        )

    def default_deadline(self, sentence_count: int) -> float:
        """The monotonic time by which a synthesis of `sentence_count` sentences gives up when
        the caller sets none: each round of `concurrency` sentences may take one full request
        timeout, plus one more timeout of slack for retries. Retries never sleep past it, so a
        flaky provider costs a job a bounded time, not retries times timeouts."""
        rounds = math.ceil(max(1, sentence_count) / self.concurrency)
        return time.monotonic() + self.request_timeout_sec * (rounds + 1)
