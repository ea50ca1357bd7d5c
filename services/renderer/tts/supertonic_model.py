"""A Supertonic model folder loaded into onnxruntime on the CPU, and the inference that speaks
one sentence with it:

text ids → duration_predictor (seconds, divided by the rate) → text_encoder → from noise, the
vector_estimator's flow-matching steps → vocoder → samples, cut to the predicted length.

Written from the graphs' published inputs and outputs and tts.json's keys, not from the SDK.
Imported only when a model is first loaded: onnxruntime and numpy are not needed before.
"""

import json
import logging
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime

from services.renderer.tts.base import SynthesisCanceled, SynthesisError
from services.renderer.tts.supertonic_files import FETCH_COMMAND, MODEL_DIR_SETTING, VOICE_STYLES_DIR
from services.renderer.tts.supertonic_text import CharacterIndex

log = logging.getLogger(__name__)

GRAPH_IO = {
    "duration_predictor": (("text_ids", "style_dp", "text_mask"), "duration"),
    "text_encoder": (("text_ids", "style_ttl", "text_mask"), "text_emb"),
    "vector_estimator": (
        ("noisy_latent", "text_emb", "style_ttl", "latent_mask", "text_mask", "current_step", "total_step"),
        "denoised_latent",
    ),
    "vocoder": (("latent",), "wav_tts"),
}
"""Each graph's inputs and the output read from it, as the published models name them."""
STYLE_KEYS = ("style_ttl", "style_dp")
"""A voice style file's two tensors, each {"dims": shape, "data": values}."""


@dataclass(frozen=True)
class VoiceStyle:
    ttl: np.ndarray
    """Conditions the text encoder and the vector estimator: [1, 50, 256] in Supertonic 3."""
    dp: np.ndarray
    """Conditions the duration predictor: [1, 8, 16]."""


def _broken(folder: Path, path: str, problem: str) -> SynthesisError:
    return SynthesisError(
        f"the Supertonic model in {folder} ({MODEL_DIR_SETTING}) is broken: {path}: {problem}; "
        f"download it again with `{FETCH_COMMAND}`",
        retryable=False,
    )


class LoadedModel:
    def __init__(
        self,
        folder: Path,
        sessions: dict[str, onnxruntime.InferenceSession],
        config: dict,
        characters: CharacterIndex,
        styles: dict[str, VoiceStyle],
    ) -> None:
        self.folder = folder
        self.sessions = sessions
        self.characters = characters
        self.styles = styles
        try:
            self.sample_rate = int(config["ae"]["sample_rate"])
            compress = int(config["ttl"]["chunk_compress_factor"])
            # The vocoder makes base_chunk_size samples per compressed step, `compress` steps a frame.
            self.samples_per_frame = int(config["ae"]["base_chunk_size"]) * compress
            self.latent_channels = int(config["ttl"]["latent_dim"]) * compress
        except (KeyError, TypeError, ValueError) as error:
            raise _broken(folder, "onnx/tts.json", f"no usable {error}") from error
        self.lock = threading.Lock()
        """One sentence at a time: concurrent runs would share the same intra-op threads."""

    @classmethod
    def load(cls, folder: Path, threads: int) -> "LoadedModel":
        log.info("loading the Supertonic model in %s (%d threads)", folder, threads)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        # The graphs run one after another, so a second pool would only add idle threads.
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        sessions = {name: _session(folder, name, options) for name in GRAPH_IO}
        config = _json(folder, "onnx/tts.json")
        indexer = _json(folder, "onnx/unicode_indexer.json")
        if not isinstance(indexer, list):
            raise _broken(folder, "onnx/unicode_indexer.json", "not a list of ids")
        styles = {path.stem: _style(folder, path) for path in sorted((folder / VOICE_STYLES_DIR).glob("*.json"))}
        return cls(folder, sessions, config, CharacterIndex(indexer), styles)

    @property
    def threads(self) -> int:
        return self.sessions["vocoder"].get_session_options().intra_op_num_threads

    def speak(self, text: str, style: VoiceStyle, *, steps: int, rate: float, cancel: threading.Event) -> np.ndarray:
        """Float samples of one sentence's `text` (as spoken_form made it), `rate` times as fast."""
        try:
            ids = self.characters.ids(text)
        except ValueError as error:
            raise SynthesisError(f"Supertonic: {error}", retryable=False) from error
        text_ids = np.asarray([ids], dtype=np.int64)
        text_mask = np.ones((1, 1, len(ids)), dtype=np.float32)
        (duration,) = self._run("duration_predictor", text_ids=text_ids, style_dp=style.dp, text_mask=text_mask)
        seconds = float(np.asarray(duration).reshape(-1)[0]) / rate
        if not np.isfinite(seconds) or seconds <= 0:
            raise SynthesisError(f"Supertonic predicted a duration of {seconds} s for {text[:60]!r}", retryable=False)
        sample_count = max(1, round(seconds * self.sample_rate))
        frames = -(-sample_count // self.samples_per_frame)
        (text_emb,) = self._run("text_encoder", text_ids=text_ids, style_ttl=style.ttl, text_mask=text_mask)
        # Noise seeded by the text: a sentence sounds the same every time it is said.
        noise = np.random.default_rng(zlib.crc32(text.encode())).standard_normal((1, self.latent_channels, frames))
        latent = noise.astype(np.float32)
        latent_mask = np.ones((1, 1, frames), dtype=np.float32)
        total_step = np.asarray([steps], dtype=np.float32)
        for step in range(steps):
            if cancel.is_set():
                raise SynthesisCanceled
            (latent,) = self._run(
                "vector_estimator", noisy_latent=latent, text_emb=text_emb, style_ttl=style.ttl, latent_mask=latent_mask,
                text_mask=text_mask, current_step=np.asarray([step], dtype=np.float32), total_step=total_step,
            )  # fmt: skip
        (wav,) = self._run("vocoder", latent=latent)
        # The vocoder fills whole frames; the predicted length ends the sentence.
        return np.asarray(wav, dtype=np.float32).reshape(-1)[:sample_count]

    def _run(self, graph: str, **inputs: np.ndarray) -> list[np.ndarray]:
        output = GRAPH_IO[graph][1]
        try:
            return self.sessions[graph].run([output], inputs)
        except Exception as error:  # onnxruntime raises its own types for any failure inside a graph
            raise SynthesisError(f"Supertonic's {graph} failed: {type(error).__name__}: {error}", retryable=False) from error


def _session(folder: Path, graph: str, options: onnxruntime.SessionOptions) -> onnxruntime.InferenceSession:
    path = f"onnx/{graph}.onnx"
    try:
        session = onnxruntime.InferenceSession(str(folder / path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as error:  # a truncated or foreign file fails with onnxruntime's own exception types
        if isinstance(error, MemoryError) or "bad_alloc" in str(error):
            raise SynthesisError(f"out of memory loading the Supertonic model in {folder}", retryable=False) from error
        raise _broken(folder, path, f"{type(error).__name__}: {error}") from error
    inputs, output = GRAPH_IO[graph]
    has_inputs = {item.name for item in session.get_inputs()}
    has_outputs = {item.name for item in session.get_outputs()}
    missing = [name for name in inputs if name not in has_inputs] + ([output] if output not in has_outputs else [])
    if missing:
        raise _broken(folder, path, f"not a Supertonic {graph}: it lacks {', '.join(missing)}")
    return session


def _json(folder: Path, path: str):
    try:
        return json.loads((folder / path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise _broken(folder, path, str(error)) from error


def _style(folder: Path, path: Path) -> VoiceStyle:
    relative = path.relative_to(folder).as_posix()
    document = _json(folder, relative)
    try:
        ttl, dp = (np.asarray(document[key]["data"], dtype=np.float32).reshape(document[key]["dims"]) for key in STYLE_KEYS)
    except (KeyError, TypeError, ValueError) as error:
        raise _broken(folder, relative, f"not a voice style ({error})") from error
    return VoiceStyle(ttl=ttl, dp=dp)
