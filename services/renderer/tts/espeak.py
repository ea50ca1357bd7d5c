"""espeak-ng through the library `espeakng_loader` ships, driven with ctypes.

espeak-ng keeps its voice, callback and buffers in process-global state, so the library is
initialised once per process and every call into it holds one lock.
"""

import ctypes
import functools
import importlib.metadata
import logging
import threading
from pathlib import Path

import espeakng_loader

from services.renderer.tts.base import (
    OUTPUT_SAMPLE_RATE,
    SAMPLE_WIDTH,
    Availability,
    SentenceDone,
    SynthesisCanceled,
    SynthesisError,
    SynthesisResult,
    spans_from_lengths,
)

log = logging.getLogger(__name__)

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
"""Without it espeak-ng calls exit() when its data folder is broken."""
_CHARS_UTF8 = 1
_END_PAUSE = 0x1000
"""Keeps the pause after each sentence, since sentences are spoken one call at a time."""
_EE_OK = 0
_CONTINUE, _ABORT = 0, 1
FALLBACK_LANGUAGE = "en"

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


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
        self.sample_rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise SynthesisError(f"espeak-ng failed to initialise (returned {self.sample_rate})")
        if self.sample_rate != OUTPUT_SAMPLE_RATE:
            raise SynthesisError(f"espeak-ng speaks at {self.sample_rate} Hz, not {OUTPUT_SAMPLE_RATE} Hz", retryable=False)
        # Kept on the instance: ctypes frees the C thunk when the Python object dies.
        self._callback = _SynthCallback(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)
        self._sink = bytearray()
        self._cancel: threading.Event | None = None
        self._current_voice: str | None = None
        self._voice_choices: dict[tuple[str, str | None], str] = {}

    def _declare_signatures(self) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
            ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip

    def _collect(self, samples, count: int, _events) -> int:
        if count > 0:
            self._sink += ctypes.string_at(samples, count * SAMPLE_WIDTH)
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

    def speak(self, text: str, cancel: threading.Event) -> bytes:
        """PCM of one sentence; raises SynthesisCanceled if `cancel` is set meanwhile."""
        self._sink = bytearray()
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
        return bytes(self._sink)


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
    model_id = f"espeak-ng {importlib.metadata.version('espeakng-loader')}"

    @property
    def languages(self) -> frozenset[str]:
        return _language_codes()

    def available(self) -> Availability:
        return Availability()

    def check(self, sentences: list[str], language: str, voice: str | None) -> None:
        """espeak-ng says any text; a language it lacks is spoken with its English voice."""

    def synthesize(
        self,
        sentences: list[str],
        language: str,
        voice: str | None,
        cancel: threading.Event,
        on_sentence: SentenceDone | None = None,
    ) -> SynthesisResult:
        with _Espeak.lock:
            sample_rate = _espeak().sample_rate
        pcm = bytearray()
        sample_counts = []
        for done, sentence in enumerate(sentences, start=1):
            if cancel.is_set():
                raise SynthesisCanceled
            # Locked per sentence, not per job, so concurrent jobs take turns.
            with _Espeak.lock:
                espeak = _espeak()
                espeak.use_voice(language, voice)
                audio = espeak.speak(sentence, cancel)
            pcm += audio
            sample_counts.append(len(audio) // SAMPLE_WIDTH)
            if on_sentence is not None:
                on_sentence(done)
        return SynthesisResult(
            pcm=bytes(pcm), sample_rate=sample_rate, sentence_spans=spans_from_lengths(sample_counts, sample_rate)
        )
