"""The soundtrack, mixed and then encoded to AAC on a thread of its own while the slides are drawn.

FFmpeg's AAC encoder is the longest single chain of work in a slide video (~0.45 s of CPU for
the reference script's 140 s, against ~0.13 s for all of its TTS), and PyAV lets go of the GIL
inside it, as it does in the filters the mix is levelled with (mixdown.py), so both run beside
the slides' drawing and H.264 rather than before them. The encoding starts only once the mix is
at its final loudness: a gain that depends on the whole narration cannot be applied to audio
already encoded. Its encoder is a codec context of its own, not the MP4's stream: the container
is opened when the slides are drawn, and its AAC stream, set up the same way, takes these packets
as they are.

A long soundtrack is encoded in two halves at once, one on a second thread: once the slides are
drawn, the AAC is all that is left, and one encoder would keep one core of two. AAC frames hang
together only through the overlap of their neighbours' windows, so the halves join without a
seam when the second encoder starts a few frames before the join (and the first runs a little
past it), each keeps its own packets on its side, and the join falls where the mix is quietest
near the middle (the encoders could choose different window shapes on a loud transient).
The joined stream has the same packets' count and timestamps as one encoder's.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np

from services.renderer.tts.base import SAMPLE_WIDTH

AUDIO_BIT_RATE = 64_000
"""Mono speech; AAC at 64 kb/s is transparent for it."""
PCM_FULL_SCALE = 32768
AUDIO_CHUNK_SEC = 1.0
"""Audio is encoded a second at a time: how soon its thread notices a stop."""
AAC_FRAME = 1024
"""Samples per AAC frame; the encoder's packet timestamps step by it (from -AAC_FRAME, its delay)."""
PREROLL_FRAMES = 4
"""Frames the second half's encoder encodes before its first kept packet, and (half as many)
the first half's encoder after its last. Without them the join clicks (on a loud tone, 5x the
coding error around it); with them it stays within 1.1-1.4x, the second encoder's rate control
having only these frames behind it (tests/unit/renderer/test_aac.py)."""
SPLIT_MIN_SEC = 20.0
"""Shorter soundtracks are encoded in one piece: a second thread would not pay for itself."""
QUIET_SEARCH_SHARE = 0.2
"""The join is looked for in this share of the soundtrack around its middle."""


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
        self._encoded = [0, 0]
        """Samples encoded by the encoder of each half (the first alone when there is one piece)."""
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
        return min(1.0, sum(self._encoded) / self._total) if self._total else 1.0

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
        try:
            samples = self._mix(self._stop)
            join = quiet_join(samples, self.sample_rate)
            if join is None:
                self._total = len(samples)
                self._packets = self._encode(samples, 0, 0)
                return
            overrun, preroll = PREROLL_FRAMES // 2 * AAC_FRAME, PREROLL_FRAMES * AAC_FRAME
            self._total = len(samples) + overrun + preroll
            with ThreadPoolExecutor(1, thread_name_prefix="aac-encoder-second-half") as helper:
                second = helper.submit(self._encode, samples[join - preroll :], join - preroll, 1)
                first = self._encode(samples[: join + overrun], 0, 0)
                # An encoder stamps every packet (with its first sample, less its delay).
                self._packets = [packet for packet in first if cast(int, packet.pts) < join]
                self._packets += [packet for packet in second.result() if cast(int, packet.pts) >= join]
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread by packets()
            self._error = error
        finally:
            self._done.set()

    def _encode(self, samples: np.ndarray, first_sample: int, part: int) -> list[av.Packet]:
        """`samples` (which start at `first_sample` of the soundtrack) as AAC packets, counted
        in `self._encoded[part]` as they go; as far as it got when the encoder is stopped."""
        sample_rate = self.sample_rate
        context = av.CodecContext.create("aac", "w")
        configure_aac(context, sample_rate)
        chunk = round(sample_rate * AUDIO_CHUNK_SEC)
        packets: list[av.Packet] = []
        encoded = 0
        while not self._stop.is_set() and encoded < len(samples):
            piece = samples[encoded : encoded + chunk]
            packets += context.encode(_frame(piece, first_sample + encoded, sample_rate))
            encoded += len(piece)
            self._encoded[part] = encoded
        if not self._stop.is_set():
            packets += context.encode(None)
        return packets


def quiet_join(samples: np.ndarray, sample_rate: int) -> int | None:
    """Where two encoders' halves of `samples` join: the frame boundary near the middle with the
    least energy in the two frames on each side of it (the windows that span it); None when the
    soundtrack is too short to split."""
    if len(samples) < SPLIT_MIN_SEC * sample_rate:
        return None
    frames = len(samples) // AAC_FRAME
    energy = np.square(samples[: frames * AAC_FRAME], dtype=np.float64).reshape(frames, AAC_FRAME).sum(axis=1)
    spanning = np.convolve(energy, np.ones(4), mode="valid")  # [b - 2]: frames b-2 to b+1, around boundary b
    reach = round(frames * QUIET_SEARCH_SHARE / 2)
    first, last = frames // 2 - reach, frames // 2 + reach
    return (first + int(np.argmin(spanning[first - 2 : last - 2]))) * AAC_FRAME


def _frame(samples: np.ndarray, first_sample: int, sample_rate: int) -> av.AudioFrame:
    # Planar float is the AAC encoder's own format: the mix goes in as it is, not requantised.
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[None], dtype=np.float32), format="fltp", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = first_sample
    frame.time_base = Fraction(1, sample_rate)
    return frame
