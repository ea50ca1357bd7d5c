"""TTS usage reported over the bus becomes /metrics counters: per engine and error kind, with
names held to short words and impossible counts ignored rather than raised on."""

from prometheus_client import REGISTRY

from libs.contracts.bus import EngineUsage
from services.api.metrics.tts import record_tts_usage


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_usage_adds_to_the_counters_of_its_engine():
    before = {
        name: sample(name, engine="azure")
        for name in ("slidereel_tts_characters_total", "slidereel_tts_requests_total", "slidereel_tts_cache_hits_total")
    }
    errors_before = sample("slidereel_tts_errors_total", engine="azure", kind="rate_limited")

    record_tts_usage(
        [
            EngineUsage(engine="azure", characters=120, requests=3, cache_hits=2, errors={"rate_limited": 1}),
            EngineUsage(engine="azure", characters=30, requests=1),
        ]
    )

    assert sample("slidereel_tts_characters_total", engine="azure") - before["slidereel_tts_characters_total"] == 150
    assert sample("slidereel_tts_requests_total", engine="azure") - before["slidereel_tts_requests_total"] == 4
    assert sample("slidereel_tts_cache_hits_total", engine="azure") - before["slidereel_tts_cache_hits_total"] == 2
    assert sample("slidereel_tts_errors_total", engine="azure", kind="rate_limited") - errors_before == 1


def test_names_that_are_not_short_words_count_as_other():
    before = sample("slidereel_tts_errors_total", engine="other", kind="other")
    record_tts_usage([EngineUsage(engine="Azure key=abc123", errors={"401 Unauthorized: key abc123": 1})])
    assert sample("slidereel_tts_errors_total", engine="other", kind="other") - before == 1
    assert "abc123" not in str([metric.samples for metric in REGISTRY.collect()])


def test_negative_counts_are_ignored_not_raised():
    before = sample("slidereel_tts_characters_total", engine="google")
    record_tts_usage([EngineUsage(engine="google", characters=-5, requests=-1, cache_hits=-2, errors={"timeout": -1})])
    assert sample("slidereel_tts_characters_total", engine="google") == before
