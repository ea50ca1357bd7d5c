"""espeak-ng through the library `espeakng_loader` ships, driven with ctypes.

espeak-ng keeps its voice, callback and buffers in process-global state, so the library is
initialised once per process and every call into it holds one lock.
"""

import ctypes
import functools
import importlib.metadata
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import espeakng_loader

from libs.contracts.bus import VoiceInfo
from services.renderer.tts.base import (
    SAMPLE_WIDTH,
    Availability,
    SentenceDone,
    SynthesisCanceled,
    SynthesisError,
    SynthesisResult,
    UsageCounter,
    Word,
    spans_from_lengths,
)
from services.renderer.tts.espeak_voices import list_voices

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
"""Without it espeak-ng calls exit() when its data folder is broken."""
_CHARS_UTF8 = 1
_END_PAUSE = 0x1000
"""Keeps the pause after each sentence, since sentences are spoken one call at a time."""
_EE_OK = 0
_CONTINUE, _ABORT = 0, 1
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_PARAMETER_RATE = 1
DEFAULT_WORDS_PER_MINUTE = 175
"""espeak-ng's own pace: rate 1.0."""
MIN_WORDS_PER_MINUTE, MAX_WORDS_PER_MINUTE = 80, 450
FALLBACK_LANGUAGE = "en"


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """espeak_EVENT of speak_lib.h: synchronous synthesis hands the callback an array of them."""

    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
        ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", _EventId),
    ]  # fmt: skip


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class _Spoken:
    pcm: bytes
    words: list[tuple[int, int, int]]
    """(character offset, length in characters, start in ms) of each word event."""


class _Espeak:
    """The process's one espeak-ng instance; use only while holding `lock`."""

    lock = threading.Lock()

    def __init__(self) -> None:
        try:
            self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as error:
            raise SynthesisError(f"cannot load espeak-ng: {error}") from error
        self._declare_signatures()
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INITIALIZE_DONT_EXIT)
        if self.sample_rate <= 0:
            raise SynthesisError(f"espeak-ng failed to initialise (returned {self.sample_rate})")
        # Kept on the instance: ctypes frees the C thunk when the Python object dies.
        self._callback = _SynthCallback(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)
        self._sink = bytearray()
        self._word_events: list[tuple[int, int, int]] = []
        self._cancel: threading.Event | None = None
        self._words_per_minute = DEFAULT_WORDS_PER_MINUTE
        self._current_voice: str | None = None
        self._voice_choices: dict[tuple[str, str | None], str] = {}

    def _declare_signatures(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip

    def _collect(self, samples, count: int, events) -> int:
        if count > 0:
            self._sink += ctypes.string_at(samples, count * SAMPLE_WIDTH)
        index = 0
        while events and events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_WORD:
                self._word_events.append((event.text_position, event.length, event.audio_position))
            index += 1
        return _ABORT if self._cancel is not None and self._cancel.is_set() else _CONTINUE

    def use_voice(self, language: str, voice: str | None) -> None:
        key = (language, voice)
        if key not in self._voice_choices:
            self._voice_choices[key] = self._choose_voice(language, voice)
        self._set_voice(self._voice_choices[key])

    def _choose_voice(self, language: str, voice: str | None) -> str:
        if voice and self._set_voice(voice):
            return voice
        if voice:
            log.warning("espeak-ng has no voice %r; using the default voice for %r", voice, language)
        if self._set_voice(language):
            return language
        log.warning("espeak-ng has no voice for language %r; falling back to %r", language, FALLBACK_LANGUAGE)
        if self._set_voice(FALLBACK_LANGUAGE):
            return FALLBACK_LANGUAGE
        raise SynthesisError(f"espeak-ng cannot load its fallback voice {FALLBACK_LANGUAGE!r}")

    def _set_voice(self, name: str) -> bool:
        if name == self._current_voice:
            return True
        if "\0" in name or self._lib.espeak_SetVoiceByName(name.encode()) != _EE_OK:
            return False
        self._current_voice = name
        return True

    def use_rate(self, rate: float) -> None:
        words_per_minute = round(min(max(DEFAULT_WORDS_PER_MINUTE * rate, MIN_WORDS_PER_MINUTE), MAX_WORDS_PER_MINUTE))
        if words_per_minute != self._words_per_minute:
            self._lib.espeak_SetParameter(_PARAMETER_RATE, words_per_minute, 0)
            self._words_per_minute = words_per_minute

    def speak(self, text: str, cancel: threading.Event) -> _Spoken:
        """PCM and word events of one sentence; raises SynthesisCanceled if `cancel` is set meanwhile."""
        self._sink = bytearray()
        self._word_events = []
        self._cancel = cancel
        encoded = text.encode("utf-8", "replace")  # a lone surrogate must not crash a job
        try:
            status = self._lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, _CHARS_UTF8 | _END_PAUSE, None, None)
        finally:
            self._cancel = None
        if cancel.is_set():
            raise SynthesisCanceled
        if status != _EE_OK:
            raise SynthesisError(f"espeak_Synth returned {status}")
        return _Spoken(bytes(self._sink), self._word_events)


_instance: _Espeak | None = None


def _espeak() -> _Espeak:
    """The initialised instance; call with `_Espeak.lock` held."""
    global _instance
    if _instance is None:
        _instance = _Espeak()
    return _instance


@functools.cache
def _language_codes() -> frozenset[str]:
    """Primary subtags of the languages in espeak-ng's data (one file per language variant)."""
    folder = Path(espeakng_loader.get_data_path()) / "lang"
    return frozenset(path.name.split("-")[0].lower() for path in folder.rglob("*") if path.is_file())


class EspeakEngine:
    name = "espeak"
    concurrency = 1
    model_id = f"espeak-ng {importlib.metadata.version('espeakng-loader')}"

    @property
    def languages(self) -> frozenset[str]:
        return _language_codes()

    def available(self) -> Availability:
        return Availability()

    def check(self, sentences: list[str], language: str, voice: str | None) -> None:
        """espeak-ng says any text; a language it lacks is spoken with its English voice."""

    def voices(self) -> list[VoiceInfo]:
        with _Espeak.lock:
            espeak = _espeak()
            return list_voices(espeak._lib, espeak.sample_rate)

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
        with _Espeak.lock:
            sample_rate = _espeak().sample_rate
        pcm = bytearray()
        sample_counts = []
        words: list[Word] = []
        for done, sentence in enumerate(sentences, start=1):
            if cancel.is_set():
                raise SynthesisCanceled
            if usage is not None:
                usage.request(len(sentence))
            # Locked per sentence, not per job, so concurrent jobs (and previews) take turns.
            with _Espeak.lock:
                espeak = _espeak()
                espeak.use_voice(language, voice)
                espeak.use_rate(rate)
                spoken = espeak.speak(sentence, cancel)
            offset = len(pcm) // SAMPLE_WIDTH / sample_rate
            samples = len(spoken.pcm) // SAMPLE_WIDTH
            words += _timed_words(sentence, spoken.words, done - 1, offset, samples / sample_rate)
            pcm += spoken.pcm
            sample_counts.append(samples)
            if on_sentence is not None:
                on_sentence(done)
        return SynthesisResult(
            pcm=bytes(pcm),
            sample_rate=sample_rate,
            sentence_spans=spans_from_lengths(sample_counts, sample_rate),
            words=words,
        )


def _timed_words(sentence: str, events: list[tuple[int, int, int]], index: int, offset: float, duration: float) -> list[Word]:
    """Words of one sentence from espeak-ng's word events (1-based character position, length,
    start in ms): each ends where the next starts, the last where the sentence's audio ends."""
    # espeak-ng spells an acronym letter by letter, one event per letter of the same word.
    events = [event for number, event in enumerate(events) if number == 0 or event[0] != events[number - 1][0]]
    words = []
    for number, (position, length, start_ms) in enumerate(events):
        end = events[number + 1][2] / 1000 if number + 1 < len(events) else duration
        text = sentence[position - 1 : position - 1 + length]
        start = min(start_ms / 1000, duration)
        if text.strip():
            words.append(Word(start=offset + start, end=offset + max(min(end, duration), start), text=text, sentence=index))
    return words
