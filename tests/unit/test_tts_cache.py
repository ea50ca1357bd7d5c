"""The on-disk sentence cache, in front of the real espeak-ng engine."""

import os
import threading

import pytest

from services.renderer.tts import get_engine
from services.renderer.tts.base import SynthesisCanceled
from services.renderer.tts.cache import CachingEngine, SynthesisCache, sentence_key

SENTENCES = ["안녕하세요.", "오늘은 개인정보 보호를 배웁니다.", "감사합니다."]


class CountingEngine:
    """The real espeak engine, counting the sentences that reach it."""

    def __init__(self) -> None:
        self.engine = get_engine("espeak")
        self.name, self.model_id, self.concurrency = self.engine.name, self.engine.model_id, 1
        self.spoken: list[str] = []

    def synthesize(self, sentences, language, voice, cancel, on_sentence=None, **options):
        self.spoken += sentences
        return self.engine.synthesize(sentences, language, voice, cancel, on_sentence, **options)


def cached(tmp_path, max_bytes: int = 50 << 20) -> tuple[CachingEngine, CountingEngine]:
    counting = CountingEngine()
    return CachingEngine(counting, SynthesisCache(tmp_path / "cache", max_bytes)), counting


def test_second_narration_is_served_from_the_cache_and_sounds_the_same(tmp_path):
    engine, counting = cached(tmp_path)
    first = engine.synthesize(SENTENCES, "ko", None, threading.Event())
    again = CachingEngine(counting, engine.cache).synthesize(SENTENCES, "ko", None, threading.Event())
    assert counting.spoken == SENTENCES
    assert again.pcm == first.pcm and again.sentence_spans == first.sentence_spans
    assert (engine.counts.hits, engine.counts.misses) == (0, 3)
    # espeak-ng's output varies by a few milliseconds from call to call, cached or not.
    uncached = get_engine("espeak").synthesize(SENTENCES, "ko", None, threading.Event())
    for (start, end), (direct_start, direct_end) in zip(first.sentence_spans, uncached.sentence_spans, strict=True):
        assert end - start == pytest.approx(direct_end - direct_start, abs=0.05)


def test_only_changed_sentences_and_other_voices_miss(tmp_path):
    engine, counting = cached(tmp_path)
    engine.synthesize(SENTENCES, "ko", None, threading.Event())
    counting.spoken.clear()
    edited = CachingEngine(counting, engine.cache)
    edited.synthesize([SENTENCES[0], "새 문장입니다.", SENTENCES[2]], "ko", None, threading.Event())
    assert counting.spoken == ["새 문장입니다."]
    assert (edited.counts.hits, edited.counts.misses) == (2, 1)
    other_voice = CachingEngine(counting, engine.cache)
    other_voice.synthesize(SENTENCES[:1], "ko", "ko+f3", threading.Event())
    assert other_voice.counts.misses == 1


def test_key_covers_engine_model_voice_language_rate_and_text():
    espeak = get_engine("espeak")
    base = sentence_key(espeak, None, "ko", "네.")
    assert len({base, sentence_key(espeak, "v", "ko", "네."), sentence_key(espeak, None, "en", "네."),
                sentence_key(espeak, None, "ko", "네!"), sentence_key(espeak, None, "ko", "네.", rate=1.5)}) == 5  # fmt: skip
    assert sentence_key(get_engine("espeak"), None, "ko", "네.") == base


def test_least_recently_used_entries_go_when_the_folder_is_full(tmp_path):
    cache = SynthesisCache(tmp_path, max_bytes=13_000)
    for index in range(4):
        cache.put(f"k{index}", bytes(3_000))
        os.utime(tmp_path / f"k{index}.tts", (index, index))  # distinct, ordered use times
    assert cache.get("k0") is not None  # k0 is now the most recently used
    cache.put("k4", bytes(3_000))
    remaining = sorted(path.name for path in tmp_path.glob("*.tts"))
    assert remaining == ["k0.tts", "k3.tts", "k4.tts"]
    assert sum(path.stat().st_size for path in tmp_path.glob("*.tts")) <= 13_000 * 0.9
    assert not list(tmp_path.glob(".*.part")), "a temporary file was left behind"


def test_an_entry_evicted_by_another_process_is_a_miss(tmp_path):
    cache = SynthesisCache(tmp_path, max_bytes=10_000)
    cache.put("gone", b"\x01\x00")
    (tmp_path / "gone.tts").unlink()
    assert cache.get("gone") is None


def test_zero_size_turns_the_cache_off(tmp_path):
    engine, counting = cached(tmp_path, max_bytes=0)
    engine.synthesize(SENTENCES[:1], "ko", None, threading.Event())
    engine.synthesize(SENTENCES[:1], "ko", None, threading.Event())
    assert counting.spoken == SENTENCES[:1] * 2
    assert not (tmp_path / "cache").exists()


def test_cancel_is_honoured_between_cached_sentences(tmp_path):
    engine, _ = cached(tmp_path)
    engine.synthesize(SENTENCES, "ko", None, threading.Event())
    cancel = threading.Event()
    with pytest.raises(SynthesisCanceled):
        engine.synthesize(SENTENCES, "ko", None, cancel, lambda done: cancel.set())
