"""Synthesized sentences kept on disk, so a retry or a re-render of an edited script speaks
only the sentences that changed.

One file per (engine, model, voice, language, rate, spoken sentence): the audio at the voice's
own sample rate and the words the engine timed, in msgpack. The folder is shared by
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

import msgspec

from libs.contracts.bus import VoiceInfo
from services.renderer.tts.base import (
    SAMPLE_WIDTH,
    Availability,
    SentenceDone,
    SynthesisCanceled,
    SynthesisError,
    SynthesisResult,
    TtsEngine,
    UsageCounter,
    Word,
    spans_from_lengths,
)

log = logging.getLogger(__name__)

_SUFFIX = ".tts"
_OLD_SUFFIX = ".pcm"
"""Entries of the raw-PCM format before voices kept their own rate: never read again, but
counted and evicted like the others, so they leave the folder as it fills."""
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
        for path in [*self.folder.glob(f"*{_SUFFIX}"), *self.folder.glob(f"*{_OLD_SUFFIX}")]:
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


class _Entry(msgspec.Struct, array_like=True):
    """One cached sentence: its audio at the voice's own rate and the words the engine timed."""

    sample_rate: int
    pcm: bytes
    words: list[tuple[float, float, str]] = []
    """(start, end, text) in seconds from the sentence's start."""


_encode_entry = msgspec.msgpack.Encoder().encode
_decode_entry = msgspec.msgpack.Decoder(_Entry).decode


def sentence_key(engine: TtsEngine, voice: str | None, language: str, sentence: str, rate: float = 1.0) -> str:
    """What shapes the sound: the engine and its model, the voice, the language, the rate and
    the text as spoken (after the lexicon)."""
    identity = [engine.name, engine.model_id, voice, language, round(rate, 3), sentence]
    return hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode()).hexdigest()


@dataclass
class CacheCounts:
    hits: int = 0
    misses: int = 0


class CachingEngine:
    """`engine` with each sentence looked up in `cache` first; the misses go to the engine in one
    call (a cloud engine speaks them concurrently) and are stored one sentence each, so every
    sentence's audio is the same whether cached or not."""

    def __init__(self, engine: TtsEngine, cache: SynthesisCache) -> None:
        self.engine = engine
        self.cache = cache
        self.counts = CacheCounts()
        self.name = engine.name
        self.model_id = engine.model_id
        self.concurrency = engine.concurrency

    @property
    def languages(self) -> frozenset[str] | None:
        return self.engine.languages

    def available(self) -> Availability:
        return self.engine.available()

    def check(self, sentences: list[str], language: str, voice: str | None) -> None:
        self.engine.check(sentences, language, voice)

    def voices(self) -> list[VoiceInfo]:
        return self.engine.voices()

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
        if not self.cache.enabled:
            return self.engine.synthesize(
                sentences, language, voice, cancel, on_sentence, rate=rate, usage=usage, deadline=deadline
            )
        keys = [sentence_key(self.engine, voice, language, sentence, rate) for sentence in sentences]
        entries: list[_Entry | None] = [self._lookup(key) for key in keys]
        missing = [index for index, entry in enumerate(entries) if entry is None]
        hits = len(sentences) - len(missing)
        self.counts.hits += hits
        self.counts.misses += len(missing)
        if usage is not None:
            usage.cache_hit(hits)
        if cancel.is_set():
            raise SynthesisCanceled
        if missing:
            spoken = self.engine.synthesize(
                [sentences[index] for index in missing], language, voice, cancel,
                None if on_sentence is None else lambda done: on_sentence(hits + done), rate=rate, usage=usage,
                deadline=deadline,
            )  # fmt: skip
            for index, entry in zip(missing, _split(spoken), strict=True):
                self.cache.put(keys[index], _encode_entry(entry))
                entries[index] = entry
        elif on_sentence is not None:
            on_sentence(len(sentences))
            if cancel.is_set():
                raise SynthesisCanceled
        return _join([entry for entry in entries if entry is not None])  # every one is filled by now

    def _lookup(self, key: str) -> "_Entry | None":
        stored = self.cache.get(key)
        if stored is None:
            return None
        try:
            return _decode_entry(stored)
        except msgspec.DecodeError:  # damaged: speak it again
            return None


def _split(result: SynthesisResult) -> list[_Entry]:
    """One entry per sentence of `result`, cut at its sentence spans (whole samples)."""
    rate = result.sample_rate
    entries = []
    for index, (start, end) in enumerate(result.sentence_spans):
        first, last = round(start * rate), round(end * rate)
        words = [(word.start - start, word.end - start, word.text) for word in result.words if word.sentence == index]
        entries.append(_Entry(rate, result.pcm[first * SAMPLE_WIDTH : last * SAMPLE_WIDTH], words))
    return entries


def _join(entries: "list[_Entry]") -> SynthesisResult:
    rates = {entry.sample_rate for entry in entries}
    if len(rates) > 1:  # one engine and voice speak at one rate; a mix would play at the wrong speed
        raise SynthesisError(f"the cached sentences of one voice have different sample rates {sorted(rates)}")
    rate = rates.pop()
    spans = spans_from_lengths([len(entry.pcm) // SAMPLE_WIDTH for entry in entries], rate)
    words = [
        Word(start=span_start + start, end=span_start + end, text=text, sentence=index)
        for index, (entry, (span_start, _)) in enumerate(zip(entries, spans))
        for start, end, text in entry.words
    ]
    return SynthesisResult(pcm=b"".join(entry.pcm for entry in entries), sample_rate=rate, sentence_spans=spans, words=words)
