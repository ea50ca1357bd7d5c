"""coqui-tts (the optional `coqui` extra): a model loaded by path from its folder, once per
worker process, speaking one sentence at a time so each gets its exact span.

The folder holds `config.json` and a checkpoint (`model.pth`, …); an XTTS folder also
`vocab.json` and `speakers_xtts.pth`. Loading by path never asks coqui's model manager for a
name, so there is no download and no licence prompt (which would read stdin in a service).
TTS is imported only when a model is first loaded: it costs seconds and ~300 MB.
"""

import importlib.util
import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from libs.contracts.bus import VoiceInfo
from services.renderer.tts.base import (
    SAMPLE_WIDTH,
    Availability,
    SentenceDone,
    SynthesisCanceled,
    SynthesisError,
    SynthesisResult,
    UsageCounter,
    spans_from_lengths,
)
from services.renderer.tts.tempo import change_tempo

log = logging.getLogger(__name__)

INSTALL_HINT = "the coqui extra is not installed: run scripts/install-coqui.sh (pip install .[coqui] plus its CPU fixes)"
CONFIG_NAME = "config.json"
CHECKPOINT_NAMES = ("model.pth", "model_file.pth", "checkpoint.pth", "best_model.pth")
MAX_REPORTED_CHARACTERS = 20


class CoquiEngine:
    name = "coqui"
    concurrency = 1

    def __init__(self, model_dir: Path | None, threads: int | None = None) -> None:
        self.model_dir = model_dir
        self.threads = threads
        """torch's CPU threads for this process; None leaves torch's default (one per core)."""

    @property
    def _folder(self) -> Path:
        """The model folder; without one the engine is not available() and is asked for nothing else."""
        if self.model_dir is None:
            raise SynthesisError("COQUI_MODEL_DIR is not set (a folder with config.json and a checkpoint)", retryable=False)
        return self.model_dir

    @property
    def model_id(self) -> str:
        """The folder and its checkpoint's size and mtime: a replaced model is a new one."""
        checkpoint = self._checkpoint()
        stat = checkpoint.stat()
        return f"{checkpoint.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"

    @property
    def languages(self) -> frozenset[str] | None:
        """What a multilingual model's config lists; None for a single-language model, whose
        character set decides what it can say (its config's one-entry list is a default)."""
        config = self._config()
        listed = config.get("languages") or []
        multilingual = config.get("model") == "xtts" or len(listed) > 1
        return frozenset(_primary(code) for code in listed) if multilingual else None

    def available(self) -> Availability:
        if importlib.util.find_spec("TTS") is None:
            return Availability(INSTALL_HINT)
        if self.model_dir is None:
            return Availability("COQUI_MODEL_DIR is not set (a folder with config.json and a checkpoint)")
        if not self.model_dir.is_dir():
            return Availability(f"the model folder {self.model_dir} does not exist")
        try:
            self._config()
            self._checkpoint()
        except SynthesisError as error:
            return Availability(str(error))
        return Availability()

    def check(self, sentences: list[str], language: str, voice: str | None) -> None:
        """Loads the model and refuses, before any synthesis, what it could only mumble: a
        language or speaker it lacks, or characters outside its character set (which coqui
        would silently drop)."""
        model = self._model()
        if model.languages and _model_language(model, language) is None:
            raise SynthesisError(
                f"the coqui model in {self.model_dir} does not speak {language!r} (it speaks {', '.join(model.languages)})",
                retryable=False,
            )
        if voice is not None and voice not in model.speakers:
            known = ", ".join(model.speakers[:10]) or "none: it has one voice"
            raise SynthesisError(
                f"the coqui model in {self.model_dir} has no speaker {voice!r} (speakers: {known})", retryable=False
            )
        if voice is None and model.speakers:
            raise SynthesisError(
                f"the coqui model in {self.model_dir} has several speakers; pick one with coqui:MODEL#SPEAKER", retryable=False
            )
        unsayable = model.unsayable(sentences, language)
        if unsayable:
            shown = "".join(unsayable[:MAX_REPORTED_CHARACTERS]) + ("…" if len(unsayable) > MAX_REPORTED_CHARACTERS else "")
            raise SynthesisError(
                f"the coqui model in {self.model_dir} cannot say {len(unsayable)} characters of this script: {shown!r}",
                retryable=False,
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
        model = self._model()
        model_language = _model_language(model, language) if model.languages else None
        pieces = []
        for done, sentence in enumerate(sentences, start=1):
            if cancel.is_set():
                raise SynthesisCanceled
            if usage is not None:
                usage.request(len(sentence))
            pieces.append(change_tempo(model.speak(sentence, model_language, voice), model.sample_rate, rate))
            if on_sentence is not None:
                on_sentence(done)
        return SynthesisResult(
            pcm=b"".join(pieces),
            sample_rate=model.sample_rate,
            sentence_spans=spans_from_lengths([len(pcm) // SAMPLE_WIDTH for pcm in pieces], model.sample_rate),
        )

    def voices(self) -> list[VoiceInfo]:
        """The configured model, by its config alone (listing its speakers would load it)."""
        if not self.available().ok:
            return []
        config = self._config()
        sample_rate = int(
            config.get("audio", {}).get("output_sample_rate") or config.get("audio", {}).get("sample_rate") or 22050
        )
        return [
            VoiceInfo(
                voice=self.name,
                engine=self.name,
                language=language,
                name=self._folder.name,
                kind="neural",
                where="local",
                sample_rate=sample_rate,
            )
            for language in sorted(self.languages or {config.get("phoneme_language") or ""})
        ]

    def _config(self) -> dict[str, Any]:
        path = self._folder / CONFIG_NAME
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SynthesisError(f"the model folder {self.model_dir} has no {CONFIG_NAME}", retryable=False) from None
        except (ValueError, OSError) as error:
            raise SynthesisError(f"cannot read {path}: {error}", retryable=False) from error

    def _checkpoint(self) -> Path:
        """The checkpoint file (XTTS loads itself from the folder, but it too has a model.pth)."""
        for name in CHECKPOINT_NAMES:
            if (self._folder / name).is_file():
                return self._folder / name
        raise SynthesisError(
            f"the model folder {self.model_dir} has no checkpoint ({', '.join(CHECKPOINT_NAMES)})", retryable=False
        )

    def _model(self) -> "_LoadedModel":
        key = self.model_id
        with _models_lock:
            if key not in _models:
                _models[key] = _LoadedModel.load(self._folder, self._checkpoint(), self._config(), self.threads)
            return _models[key]


_models: dict[str, "_LoadedModel"] = {}
"""Loaded models of this process by model_id: each worker loads a model once, not per job."""
_models_lock = threading.Lock()


@dataclass(frozen=True)
class _LoadedModel:
    tts: Any
    """TTS.api.TTS"""
    folder: Path
    sample_rate: int
    languages: list[str]
    speakers: list[str]
    vocabulary: frozenset[str] | None
    """Characters it can say after its text cleaner; None when a phonemizer or BPE reads the text."""
    lock: threading.Lock

    @classmethod
    def load(cls, folder: Path, checkpoint: Path, config: dict[str, Any], threads: int | None) -> "_LoadedModel":
        # Belt and braces: nothing below should reach Hugging Face, and a service must not wait on it.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from TTS.api import TTS
        except ImportError as error:
            raise SynthesisError(
                f"coqui is installed but does not import ({error}); run scripts/install-coqui.sh again", retryable=False
            ) from error
        if threads is not None:
            import torch

            # Per process: torch's default of one thread per core, in every worker, makes its
            # spinning threads fight over the cores (measured 20x slower with 2 workers on 2 cores).
            torch.set_num_threads(threads)
        model_path = folder if config.get("model") == "xtts" else checkpoint
        log.info("loading the coqui model in %s", folder)
        try:
            tts = TTS(model_path=str(model_path), config_path=str(folder / CONFIG_NAME), progress_bar=False)
        except Exception as error:  # whatever a broken checkpoint or config makes coqui raise
            if _is_out_of_memory(error):
                raise SynthesisError(f"out of memory loading the coqui model in {folder}", retryable=False) from error
            raise SynthesisError(
                f"cannot load the coqui model in {folder}: {type(error).__name__}: {error}", retryable=False
            ) from error
        synthesizer = tts.synthesizer
        return cls(
            tts=tts,
            folder=folder,
            sample_rate=synthesizer.output_sample_rate,
            languages=list(tts.languages or []),
            speakers=list(tts.speakers or []),
            vocabulary=_vocabulary(synthesizer.tts_model),
            lock=threading.Lock(),
        )

    def unsayable(self, sentences: list[str], language: str) -> list[str]:
        """Characters of `sentences` its tokenizer would drop, in order of appearance."""
        if self.vocabulary is None:
            return []
        from TTS.tts.utils.languages import normalize_language

        tokenizer = self.tts.synthesizer.tts_model.tokenizer
        found: dict[str, None] = {}
        for sentence in sentences:
            cleaned = tokenizer.text_cleaner(sentence, lang=normalize_language(language)) if tokenizer.text_cleaner else sentence
            found.update((char, None) for char in cleaned if char not in self.vocabulary)
        return list(found)

    def speak(self, sentence: str, language: str | None, speaker: str | None) -> bytes:
        """16-bit PCM at the model's own rate of one sentence (with coqui's short pause after it)."""
        try:
            with self.lock:
                wav = self.tts.tts(text=sentence, speaker=speaker, language=language, split_sentences=False)
        except Exception as error:  # a model may raise anything; the job needs TTS_FAILED
            if _is_out_of_memory(error):
                raise SynthesisError(
                    f"out of memory synthesizing with the coqui model in {self.folder} "
                    "(use a smaller model or fewer RENDER_WORKERS)",
                    retryable=False,
                ) from error
            raise SynthesisError(f"coqui failed on {sentence[:60]!r}: {type(error).__name__}: {error}") from error
        return _to_pcm(wav)


def _vocabulary(tts_model: Any) -> frozenset[str] | None:
    tokenizer = getattr(tts_model, "tokenizer", None)
    characters = getattr(tokenizer, "characters", None)
    if characters is None or getattr(tokenizer, "use_phonemes", False):
        return None
    return frozenset(characters.vocab)


def _is_out_of_memory(error: BaseException) -> bool:
    # torch reports a failed CPU allocation as a RuntimeError, not MemoryError.
    return isinstance(error, MemoryError) or "can't allocate memory" in str(error) or type(error).__name__ == "OutOfMemoryError"


def _primary(code: str) -> str:
    return code.split("-", 1)[0].lower()


def _model_language(model: _LoadedModel, language: str) -> str | None:
    """The model's own code for a primary subtag (XTTS says zh-cn for zh)."""
    return next((code for code in model.languages if _primary(code) == language), None)


def _to_pcm(wav: Any) -> bytes:
    import numpy as np  # imported on first use: most workers never load a coqui model

    samples = np.clip(np.asarray(wav, dtype=np.float32), -1.0, 1.0)
    return (samples * 32767).astype("<i2").tobytes()
