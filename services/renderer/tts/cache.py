"""Synthesized sentences kept on disk, so a retry or a re-render of an edited script speaks
only the sentences that changed.

One file of raw PCM per (engine, model, voice, language, sentence). The folder is shared by
every worker process: entries are written to a temporary name and renamed into place, a hit
touches the file's mtime, and the least recently used entries are removed when the folder
grows past its limit.
"""

import hashlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from services.renderer.tts.base import (
    OUTPUT_SAMPLE_RATE,
    SAMPLE_WIDTH,
    Availability,
    SentenceDone,
    SynthesisCanceled,
    SynthesisResult,
    TtsEngine,
    spans_from_lengths,
)

log = logging.getLogger(__name__)

_SUFFIX = ".pcm"
EVICT_TO = 0.9
"""Eviction stops below this share of the limit, so one new entry does not evict again."""


class SynthesisCache:
    """The on-disk store; `max_bytes` 0 turns it off."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._estimated_bytes: int | None = None
        """This process's idea of the folder size: a scan plus its own writes since."""

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            pcm = path.read_bytes()
            os.utime(path)
        except FileNotFoundError:  # never stored, or evicted by another process meanwhile
            return None
        return pcm

    def put(self, key: str, pcm: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(pcm)
            os.replace(temporary, self._path(key))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        with self._lock:
            if self._estimated_bytes is None:
                self._estimated_bytes = self._scan_bytes()
            else:
                self._estimated_bytes += len(pcm)
            if self._estimated_bytes > self.max_bytes:
                self._estimated_bytes = self._evict()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{_SUFFIX}"

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every entry; ones removed meanwhile are skipped."""
        entries = []
        for path in self.folder.glob(f"*{_SUFFIX}"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        return entries

    def _scan_bytes(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _evict(self) -> int:
        """Removes least recently used entries until under EVICT_TO of the limit; returns the size left."""
        entries = sorted(self._entries(), key=lambda entry: entry[0])
        total = sum(size for _, size, _ in entries)
        removed = 0
        for _, size, path in entries:
            if total <= self.max_bytes * EVICT_TO:
                break
            path.unlink(missing_ok=True)
            total -= size
            removed += 1
        log.info("TTS cache over %d MB: removed %d least recently used sentences", self.max_bytes >> 20, removed)
        return total


def sentence_key(engine: TtsEngine, voice: str | None, language: str, sentence: str) -> str:
    identity = [engine.name, engine.model_id, voice, language, OUTPUT_SAMPLE_RATE, sentence]
    return hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode()).hexdigest()


@dataclass
class CacheCounts:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        looked_up = self.hits + self.misses
        return self.hits / looked_up if looked_up else 0.0


class CachingEngine:
    """`engine` with each sentence looked up in `cache` first; only misses reach the engine,
    one sentence at a time, so every sentence's audio is the same whether cached or not."""

    def __init__(self, engine: TtsEngine, cache: SynthesisCache) -> None:
        self.engine = engine
        self.cache = cache
        self.counts = CacheCounts()
        self.name = engine.name
        self.model_id = engine.model_id

    @property
    def languages(self) -> frozenset[str] | None:
        return self.engine.languages

    def available(self) -> Availability:
        return self.engine.available()

    def check(self, sentences: list[str], language: str, voice: str | None) -> None:
        self.engine.check(sentences, language, voice)

    def synthesize(
        self,
        sentences: list[str],
        language: str,
        voice: str | None,
        cancel: threading.Event,
        on_sentence: SentenceDone | None = None,
    ) -> SynthesisResult:
        if not self.cache.enabled:
            return self.engine.synthesize(sentences, language, voice, cancel, on_sentence)
        pieces = []
        for done, sentence in enumerate(sentences, start=1):
            if cancel.is_set():
                raise SynthesisCanceled
            key = sentence_key(self.engine, voice, language, sentence)
            pcm = self.cache.get(key)
            if pcm is None:
                self.counts.misses += 1
                pcm = self.engine.synthesize([sentence], language, voice, cancel).pcm
                self.cache.put(key, pcm)
            else:
                self.counts.hits += 1
            pieces.append(pcm)
            if on_sentence is not None:
                on_sentence(done)
        return SynthesisResult(
            pcm=b"".join(pieces),
            sample_rate=OUTPUT_SAMPLE_RATE,
            sentence_spans=spans_from_lengths([len(pcm) // SAMPLE_WIDTH for pcm in pieces], OUTPUT_SAMPLE_RATE),
        )
