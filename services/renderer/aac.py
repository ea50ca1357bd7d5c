"""The soundtrack, mixed and then encoded to AAC on a thread of its own while the slides are drawn.

FFmpeg's AAC encoder is the longest single chain of work in a slide video (~0.45 s of CPU for
the reference script's 140 s, against ~0.13 s for all of its TTS), and PyAV lets go of the GIL
inside it, as it does in the filters the mix is levelled with (mixdown.py), so both run beside
the slides' drawing and H.264 rather than before them. The encoding starts only once the mix is
at its final loudness: a gain that depends on the whole narration cannot be applied to audio
already encoded. Its encoder is a codec context of its own, not the MP4's stream: the container
is opened when the slides are drawn, and its AAC stream, set up the same way, takes these packets
as they are.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from services.renderer.tts.base import SAMPLE_WIDTH

AUDIO_BIT_RATE = 64_000
"""Mono speech; AAC at 64 kb/s is transparent for it."""
PCM_FULL_SCALE = 32768
AUDIO_CHUNK_SEC = 1.0
"""Audio is encoded a second at a time: how soon its thread notices a stop."""


@dataclass(frozen=True, kw_only=True)
class PcmAudio:
    """Signed 16-bit mono PCM in a raw file."""

    path: Path
    sample_rate: int

    @property
    def samples(self) -> int:
        return self.path.stat().st_size // SAMPLE_WIDTH

    @property
    def duration_sec(self) -> float:
        return self.samples / self.sample_rate

    def as_float(self) -> np.ndarray:
        """The samples as float32 in [-1, 1)."""
        return np.fromfile(self.path, dtype="<i2").astype(np.float32) / PCM_FULL_SCALE


def configure_aac(context: av.AudioCodecContext, sample_rate: int) -> None:
    """The one AAC setup, for the encoder and for the MP4 stream that carries its packets."""
    context.sample_rate = sample_rate
    context.time_base = Fraction(1, sample_rate)
    context.layout = "mono"
    context.format = "fltp"
    context.bit_rate = AUDIO_BIT_RATE
    # The default "twoloop" coder is the slowest part of a slide video (DESIGN §7).
    context.options = {"aac_coder": "fast"}


class SoundtrackEncoder:
    """AAC packets of the soundtrack `mix` returns (mono float samples at `sample_rate`), mixed
    and encoded on a thread from entering the with-block; leaving it stops the thread. `mix` is
    handed an event set on leaving, which it must heed: a canceled render waits for this thread."""

    def __init__(self, mix: Callable[[threading.Event], np.ndarray], sample_rate: int) -> None:
        self._mix = mix
        self.sample_rate = sample_rate
        self._stop = threading.Event()
        self._total: int | None = None
        self._encoded = 0
        self._packets: list[av.Packet] = []
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aac-encoder", daemon=True)

    def __enter__(self) -> "SoundtrackEncoder":
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def fraction(self) -> float:
        """How much of the soundtrack is encoded (0 to 1; 0 while it is being mixed)."""
        if self._total is None:
            return 0.0
        return self._encoded / self._total if self._total else 1.0

    def wait(self, timeout: float) -> bool:
        """Whether all of the soundtrack is encoded (or the encoder failed), after at most `timeout` s."""
        return self._done.wait(timeout)

    def packets(self) -> list[av.Packet]:
        """Every packet, once all is encoded; raises what the encoder raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._packets

    def _run(self) -> None:
        sample_rate = self.sample_rate
        try:
            samples = self._mix(self._stop)
            self._total = len(samples)
            context = av.CodecContext.create("aac", "w")
            configure_aac(context, sample_rate)
            chunk = round(sample_rate * AUDIO_CHUNK_SEC)
            while not self._stop.is_set() and self._encoded < len(samples):
                piece = samples[self._encoded : self._encoded + chunk]
                self._packets += context.encode(_frame(piece, self._encoded, sample_rate))
                self._encoded += len(piece)
            if not self._stop.is_set():
                self._packets += context.encode(None)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread by packets()
            self._error = error
        finally:
            self._done.set()


def _frame(samples: np.ndarray, first_sample: int, sample_rate: int) -> av.AudioFrame:
    # Planar float is the AAC encoder's own format: the mix goes in as it is, not requantised.
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[None], dtype=np.float32), format="fltp", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = first_sample
    frame.time_base = Fraction(1, sample_rate)
    return frame
