"""The interface every TTS engine implements, and what it returns."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

SAMPLE_WIDTH = 2
"""Bytes per sample: every engine returns signed 16-bit little-endian mono PCM."""
OUTPUT_SAMPLE_RATE = 22050
"""Every engine returns audio at this rate (espeak-ng's own), so a job whose engine falls
back or whose sentences come from the cache still has one rate."""

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


@dataclass(frozen=True, kw_only=True)
class SynthesisResult:
    pcm: bytes
    sample_rate: int
    sentence_spans: list[tuple[float, float]]
    """(start, end) of each sentence in seconds, from the samples it produced."""

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


class TtsEngine(Protocol):
    name: str
    model_id: str
    """What besides voice and language shapes the sound (model file, library version): part
    of the cache key, so a replaced model is not answered from the cache."""

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

    def synthesize(
        self,
        sentences: list[str],
        language: str,
        voice: str | None,
        cancel: threading.Event,
        on_sentence: SentenceDone | None = None,
    ) -> SynthesisResult:
        """Speak `sentences` one after another in `language` (primary BCP-47 subtag).

        `voice` is engine-specific; an unknown one falls back to the language's default.
        Raises SynthesisCanceled when `cancel` is set, SynthesisError when the engine fails.
        """
        ...


def spans_from_lengths(sample_counts: list[int], sample_rate: int) -> list[tuple[float, float]]:
    """Back-to-back (start, end) seconds of consecutive pieces of audio given their lengths."""
    spans = []
    position = 0
    for count in sample_counts:
        spans.append((position / sample_rate, (position + count) / sample_rate))
        position += count
    return spans
