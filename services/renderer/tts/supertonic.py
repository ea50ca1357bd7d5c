"""Supertonic 3 (Supertone; code MIT, weights OpenRAIL-M): a self-hosted neural voice for Korean,
English and 29 other languages at 44.1 kHz, run by onnxruntime on the CPU from the folder
SUPERTONIC_MODEL_DIR, which `slidereel voices fetch supertonic` fills (never at render time).

Voices are the folder's preset styles (voice_styles/F1.json … M5.json): `supertonic#F1`. The
model is loaded once per worker process and speaks one sentence per call, so each sentence gets
its exact span; the rate scales the predicted duration, so it changes the pace, not the pitch.
"""

import json
import logging
import threading
from pathlib import Path

from libs.contracts.bus import VoiceInfo
from services.renderer.tts.base import (
    Availability,
    SentenceDone,
    SynthesisCanceled,
    SynthesisError,
    SynthesisResult,
    UsageCounter,
    spans_from_lengths,
)
from services.renderer.tts.supertonic_files import (
    COMPLETION_MARKER,
    FETCH_COMMAND,
    MODEL_DIR_SETTING,
    VOICE_STYLES_DIR,
    incomplete_reason,
    read_completion,
)
from services.renderer.tts.supertonic_text import normalized, pieces, spoken_form

log = logging.getLogger(__name__)

LANGUAGES = frozenset((
    "en", "ko", "ja", "ar", "bg", "cs", "da", "de", "el", "es", "et", "fi", "fr", "hi", "hr", "hu",
    "id", "it", "lt", "lv", "nl", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "uk", "vi",
))  # fmt: skip
"""The languages Supertonic 3 was trained on (its model card)."""
CATALOG_LANGUAGES = ("ko", "en")
"""Where its voices are offered in the voice catalog: the languages slidereel's scripts are
written in and were listened to; the others are spoken when a script names a voice."""
DEFAULT_VOICE = "F1"
GENDERS = {"F": "female", "M": "male"}
PAUSE_SEC = 0.3
"""Silence after each sentence (and between the parts of a long one), at rate 1.0: the
model's audio ends with the last word, and the upstream SDK joins its chunks with 0.3 s."""


class SupertonicEngine:
    name = "supertonic"
    concurrency = 1

    def __init__(self, model_dir: Path | None, threads: int = 1, steps: int = 5) -> None:
        self.model_dir = model_dir
        self.threads = threads
        """onnxruntime's intra-op threads for this process (SUPERTONIC_THREADS)."""
        self.steps = steps
        """Flow-matching steps per sentence (SUPERTONIC_STEPS): more is cleaner and slower."""

    @property
    def model_id(self) -> str:
        """The verified files' content and the step count: what shapes the sound."""
        completion = read_completion(self._folder())
        if completion is None:
            raise SynthesisError(self._unavailable(f"{self.model_dir} is not a completed download"), retryable=False)
        return f"supertonic@{completion.revision[:12]}:{completion.digest[:16]}:steps={self.steps}"

    @property
    def languages(self) -> frozenset[str]:
        return LANGUAGES

    def available(self) -> Availability:
        """By file names, sizes and the completion marker only: nothing is loaded."""
        if self.model_dir is None:
            return Availability(f"{MODEL_DIR_SETTING} is not set; `{FETCH_COMMAND}` downloads the model (about 400 MB) into it")
        reason = incomplete_reason(self.model_dir)
        return Availability(self._unavailable(reason) if reason else None)

    def check(self, sentences: list[str], language: str, voice: str | None) -> None:
        """Loads the model and refuses, before any synthesis, a language or voice it lacks and
        characters it cannot say (which it would otherwise skip or mumble)."""
        if language not in LANGUAGES:
            spoken = ", ".join(sorted(LANGUAGES))
            raise SynthesisError(f"Supertonic does not speak {language!r} (it speaks {spoken})", retryable=False)
        model = self._model()
        if voice is not None and voice not in model.styles:
            raise SynthesisError(
                f"the Supertonic model in {self.model_dir} has no voice {voice!r} (voices: {', '.join(sorted(model.styles))})",
                retryable=False,
            )
        unsayable = model.characters.unsayable(sentences)
        if unsayable:
            raise SynthesisError(
                f"Supertonic cannot say {len(unsayable)} characters of this script: {''.join(unsayable[:20])!r}", retryable=False
            )

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
        import numpy as np

        if language not in LANGUAGES:
            raise SynthesisError(f"Supertonic does not speak {language!r}", retryable=False)
        model = self._model()
        style = model.styles[self._style_name(model, voice)]
        pause = np.zeros(round(PAUSE_SEC / rate * model.sample_rate), dtype=np.float32)
        pcm = bytearray()
        sample_counts = []
        for done, sentence in enumerate(sentences, start=1):
            if cancel.is_set():
                raise SynthesisCanceled
            if usage is not None:
                usage.request(len(sentence))
            parts = []
            for part in pieces(sentence, language) if normalized(sentence) else []:
                # Locked per part, not per job, so concurrent jobs take turns.
                with model.lock:
                    parts.append(model.speak(spoken_form(part, language), style, steps=self.steps, rate=rate, cancel=cancel))
                parts.append(pause)
            samples = np.concatenate(parts) if parts else pause
            pcm += _to_pcm(samples)
            sample_counts.append(len(samples))
            if on_sentence is not None:
                on_sentence(done)
        return SynthesisResult(
            pcm=bytes(pcm), sample_rate=model.sample_rate, sentence_spans=spans_from_lengths(sample_counts, model.sample_rate)
        )

    def voices(self) -> list[VoiceInfo]:
        """The folder's preset voices for the catalog languages, read from file names and
        tts.json (the model is not loaded)."""
        folder = self.model_dir
        if folder is None or not self.available().ok:
            return []
        try:
            config = json.loads((folder / "onnx" / "tts.json").read_text(encoding="utf-8"))
            sample_rate = int(config["ae"]["sample_rate"])
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("cannot read the sample rate from %s", folder / "onnx" / "tts.json")
            return []
        styles = sorted(path.stem for path in (folder / VOICE_STYLES_DIR).glob("*.json"))
        return [
            VoiceInfo(
                voice=f"{self.name}#{style}",
                engine=self.name,
                language=language,
                name=f"Supertonic {style}",
                gender=GENDERS.get(style[:1], ""),
                kind="neural",
                where="local",
                sample_rate=sample_rate,
            )
            for language in CATALOG_LANGUAGES
            for style in styles
        ]

    def _style_name(self, model, voice: str | None) -> str:
        if voice is not None and voice in model.styles:
            return voice
        fallback = DEFAULT_VOICE if DEFAULT_VOICE in model.styles else min(model.styles)
        if voice is not None:
            log.warning("Supertonic has no voice %r; speaking with %s", voice, fallback)
        return fallback

    def _folder(self) -> Path:
        availability = self.available()
        if availability.reason is not None:
            raise SynthesisError(availability.reason, retryable=False)
        if self.model_dir is None:  # available() says so first
            raise SynthesisError(f"{MODEL_DIR_SETTING} is not set", retryable=False)
        return self.model_dir

    def _unavailable(self, reason: str) -> str:
        return f"{MODEL_DIR_SETTING}: {reason}; run `{FETCH_COMMAND}`"

    def _model(self):
        """The process's loaded model of this folder (loaded on first use, again only when the
        folder was fetched anew or the thread count differs)."""
        folder = self._folder()
        key = (folder.resolve(), self.model_id, (folder / COMPLETION_MARKER).stat().st_mtime_ns, self.threads)
        with _models_lock:
            if key not in _models:
                try:
                    from services.renderer.tts.supertonic_model import LoadedModel
                except ImportError as error:
                    raise SynthesisError(f"onnxruntime does not import ({error})", retryable=False) from error
                for stale in [other for other in _models if other[0] == key[0]]:
                    del _models[stale]
                _models[key] = LoadedModel.load(folder, self.threads)
            return _models[key]


_models: dict[tuple, object] = {}
"""Loaded models of this process: each worker loads a model once, not per job."""
_models_lock = threading.Lock()


def _to_pcm(samples) -> bytes:
    import numpy as np

    return (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
