"""The interface every TTS engine implements, and what it returns."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

SAMPLE_WIDTH = 2
"""Bytes per sample: every engine returns signed 16-bit little-endian mono PCM."""

SentenceDone = Callable[[int], None]
"""Called with the number of sentences synthesized so far, after each sentence."""


class SynthesisError(Exception):
    """The engine failed (crashed, could not load); worth retrying."""


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


class TtsEngine(Protocol):
    name: str

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
