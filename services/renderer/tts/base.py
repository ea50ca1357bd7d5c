"""The interface every TTS engine implements, and what it returns."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from libs.contracts.bus import EngineUsage, VoiceInfo

SAMPLE_WIDTH = 2
"""Bytes per sample: every engine returns signed 16-bit little-endian mono PCM, at the voice's
own sample rate (never resampled down: one job has one voice, so one rate)."""

SentenceDone = Callable[[int], None]
"""Called with the number of sentences synthesized so far, after each sentence."""


class SynthesisError(Exception):
    """The engine failed. `retryable` False: another attempt would fail the same way (missing
    extra or model, text the model cannot say, out of memory)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class SynthesisCanceled(Exception):
    """The cancel event was set while synthesizing."""


class ProviderError(SynthesisError):
    """A TTS provider's answer that failed a request; `kind` names it for /metrics
    (rate_limited, server_error, timeout, connection, auth, bad_request, bad_audio, circuit_open)."""

    def __init__(self, message: str, *, kind: str, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)
        self.kind = kind


class UsageCounter:
    """What one job (or preview) asked of one engine, for /metrics: added to from the threads
    that speak its sentences, read once when it ends (EngineUsage on the bus)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.characters = 0
        self.requests = 0
        self.cache_hits = 0
        self.errors: dict[str, int] = {}

    def request(self, characters: int) -> None:
        with self._lock:
            self.requests += 1
            self.characters += characters

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def cache_hit(self, count: int = 1) -> None:
        with self._lock:
            self.cache_hits += count

    def as_contract(self, engine: str) -> EngineUsage:
        with self._lock:
            return EngineUsage(
                engine=engine,
                characters=self.characters,
                requests=self.requests,
                cache_hits=self.cache_hits,
                errors=dict(self.errors),
            )


@dataclass(frozen=True)
class Word:
    """A word as the engine timed it, in seconds from the start of its result's audio."""

    start: float
    end: float
    text: str
    sentence: int
    """Index of its sentence in the `sentences` the engine was given."""


@dataclass(frozen=True, kw_only=True)
class SynthesisResult:
    pcm: bytes
    sample_rate: int
    sentence_spans: list[tuple[float, float]]
    """(start, end) of each sentence in seconds, from the samples it produced: back to back,
    so the PCM splits into sentences at these points."""
    words: list[Word] = field(default_factory=list)
    """Engine-timed words, where the engine reports them (espeak's word events, Google's SSML
    marks); empty when it does not."""

    @property
    def duration_sec(self) -> float:
        return len(self.pcm) / SAMPLE_WIDTH / self.sample_rate


@dataclass(frozen=True)
class Availability:
    reason: str | None = None
    """Why the engine cannot run here; None when it can."""

    @property
    def ok(self) -> bool:
        return self.reason is None


class Synthesizer(Protocol):
    """What speaks a narration (narration.narrate): an engine, or a job's voice prepared from one."""

    @property
    def concurrency(self) -> int:
        """Sentences it speaks at once when given several (a cloud engine's TTS_CONCURRENCY; 1 for
        an engine that computes here)."""
        ...

    def synthesize(
        self,
        sentences: list[str],
        language: str,
        voice: str | None,
        cancel: threading.Event,
        on_sentence: SentenceDone | None = None,
        *,
        rate: float = 1.0,
        usage: UsageCounter | None = None,
        deadline: float | None = None,
    ) -> SynthesisResult:
        """Speak `sentences` one after another in `language` (primary BCP-47 subtag), at `rate`
        (0.5-2.0, 1.0 the voice's own pace). The text is what is spoken: the lexicon was applied.
        Each request to the engine (a sentence) and each failed one are counted in `usage`.
        `deadline` (time.monotonic()) bounds the retries of an engine that retries (cloud);
        an engine that computes here has none to bound and ignores it.

        `voice` is engine-specific; an unknown one falls back to the language's default.
        Raises SynthesisCanceled when `cancel` is set, SynthesisError when the engine fails.
        """
        ...


class TtsEngine(Synthesizer, Protocol):
    name: str

    @property
    def model_id(self) -> str:
        """What besides voice and language shapes the sound (model file, library version): part
        of the cache key, so a replaced model is not answered from the cache."""
        ...

    @property
    def languages(self) -> frozenset[str] | None:
        """Primary language subtags it speaks; None when the model does not say."""
        ...

    def available(self) -> Availability:
        """Whether it can run at all, checked cheaply (no model load)."""
        ...

    def check(self, sentences: list[str], language: str, voice: str | None) -> None:
        """Raises SynthesisError before any synthesis when it cannot say `sentences`."""
        ...

    def voices(self) -> list[VoiceInfo]:
        """The voices it can speak here, for the catalog (cheap: a cloud list is fetched once)."""
        ...


def spans_from_lengths(sample_counts: list[int], sample_rate: int) -> list[tuple[float, float]]:
    """Back-to-back (start, end) seconds of consecutive pieces of audio given their lengths."""
    spans = []
    position = 0
    for count in sample_counts:
        spans.append((position / sample_rate, (position + count) / sample_rate))
        position += count
    return spans
