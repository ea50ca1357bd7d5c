"""Counting what renderers asked of their TTS engines: characters, requests, errors, cache hits.

Renderers report it (`EngineUsage`, with each attempt's outcome and each voice preview); the API
counts it where /metrics is served. Engine names and error kinds come over the bus, so each must
be a short lowercase word to become a label value (anything else counts as "other"): every
label value is a time series of its own, and free text such as a provider's message would add
series without bound, and could put whatever that message quoted on the open /metrics page."""

import re
from collections.abc import Iterable

from libs.contracts.bus import EngineUsage
from services.api.metrics.instruments import TTS_CACHE_HITS, TTS_CHARACTERS, TTS_ERRORS, TTS_REQUESTS

_LABEL_VALUE = re.compile(r"[a-z][a-z0-9_]{0,31}")
OTHER = "other"


def record_tts_usage(usages: Iterable[EngineUsage]) -> None:
    """Adds one attempt's or one preview's TTS usage to the counters. Call it once per report:
    nothing here can tell a resent report from a new one."""
    for usage in usages:
        engine = label_value(usage.engine)
        _add(TTS_CHARACTERS.labels(engine), usage.characters)
        _add(TTS_REQUESTS.labels(engine), usage.requests)
        _add(TTS_CACHE_HITS.labels(engine), usage.cache_hits)
        for kind, count in usage.errors.items():
            _add(TTS_ERRORS.labels(engine, label_value(kind)), count)


def label_value(text: str) -> str:
    return text if _LABEL_VALUE.fullmatch(text) else OTHER


def _add(counter, amount: int) -> None:
    # A counter only goes up (prometheus_client raises on a negative amount): a bad report
    # must not stop the broker that counts it.
    if amount > 0:
        counter.inc(amount)
