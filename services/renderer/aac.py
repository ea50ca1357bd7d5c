"""The narration's AAC, encoded on a thread of its own while the narration is still being written.

FFmpeg's AAC encoder is the longest single chain of work in a slide video (~0.45 s of CPU for
the reference script's 140 s, against ~0.13 s for all of its TTS), and PyAV lets go of the GIL
inside it. So it follows the narration file scene by scene as the TTS writes it, instead of
starting once the last scene is spoken; the file, not memory, holds what it has not read yet.
Its encoder is a codec context of its own, not the MP4's stream: the container is opened later,
when the slides are drawn, and its AAC stream, set up the same way, takes these packets as they are.
"""

import threading
from fractions import Fraction
from pathlib import Path

import av

from services.renderer.tts.base import SAMPLE_WIDTH

AUDIO_BIT_RATE = 64_000
"""Mono speech; AAC at 64 kb/s is transparent for it."""
AUDIO_CHUNK_SEC = 1.0
"""Audio is encoded a second at a time: how soon its thread notices a stop."""


def configure_aac(context: av.AudioCodecContext, sample_rate: int) -> None:
    """The one AAC setup, for the encoder and for the MP4 stream that carries its packets."""
    context.sample_rate = sample_rate
    context.time_base = Fraction(1, sample_rate)
    context.layout = "mono"
    context.format = "fltp"
    context.bit_rate = AUDIO_BIT_RATE
    # The default "twoloop" coder is the slowest part of a slide video (DESIGN §7).
    context.options = {"aac_coder": "fast"}


class NarrationEncoder:
    """AAC packets of the PCM file at `path` (signed 16-bit mono) as it grows.

    The narrating thread calls `written(size, sample_rate)` after each scene it has flushed to the
    file and `end()` after the last; `restart()` forgets everything, for a narration that starts
    the file over (a fallback voice). Leaving the with-block stops the thread."""

    _sample_rate: int | None

    def __init__(self, path: Path) -> None:
        self.path = path
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._forget()

    def __enter__(self) -> "NarrationEncoder":
        return self

    def __exit__(self, *_) -> None:
        self._halt()

    @property
    def sample_rate(self) -> int:
        if self._sample_rate is None:
            raise ValueError("no narration was written yet")
        return self._sample_rate

    @property
    def fraction(self) -> float:
        """How much of the narration written so far is encoded (0 to 1)."""
        return self._encoded / self._written if self._written else 0.0

    def written(self, size: int, sample_rate: int) -> None:
        with self._changed:
            self._written, self._sample_rate = size, sample_rate
            self._changed.notify()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, args=(sample_rate,), name="aac-encoder", daemon=True)
            self._thread.start()

    def end(self) -> None:
        if self._thread is None:
            raise ValueError("the narration ended before any of it was written")
        with self._changed:
            self._ended = True
            self._changed.notify()

    def restart(self) -> None:
        self._halt()
        self._forget()

    def wait(self, timeout: float) -> bool:
        """Whether all of the narration is encoded (or the encoder failed), after at most `timeout` s."""
        return self._done.wait(timeout)

    def packets(self) -> list[av.Packet]:
        """Every packet, once `end()` was called and all is encoded; raises what the encoder raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._packets

    def _forget(self) -> None:
        self._written = self._encoded = 0
        self._sample_rate = None
        self._ended = self._stopped = False
        self._packets: list[av.Packet] = []
        self._error: BaseException | None = None
        self._done = threading.Event()

    def _halt(self) -> None:
        with self._changed:
            self._stopped = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _readable_end(self, position: int) -> int | None:
        """How far the file may be read once it holds more than `position` bytes; None once the
        narration ended there or the encoder was stopped."""
        with self._changed:
            while not (self._stopped or self._ended or self._written > position):
                self._changed.wait()
            return None if self._stopped or self._written <= position else self._written

    def _run(self, sample_rate: int) -> None:
        try:
            context = av.CodecContext.create("aac", "w")
            configure_aac(context, sample_rate)
            chunk_bytes = round(sample_rate * AUDIO_CHUNK_SEC) * SAMPLE_WIDTH
            with self.path.open("rb") as pcm:
                while (end := self._readable_end(self._encoded)) is not None:
                    data = pcm.read(min(end - self._encoded, chunk_bytes))
                    if not data:
                        raise OSError(f"{self.path} ends at byte {self._encoded}, before the {end} written to it")
                    self._packets += context.encode(_frame(data, self._encoded // SAMPLE_WIDTH, sample_rate))
                    self._encoded += len(data)
            if not self._stopped:
                self._packets += context.encode(None)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread by packets()
            self._error = error
        finally:
            self._done.set()


def _frame(data: bytes, first_sample: int, sample_rate: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(data) // SAMPLE_WIDTH)
    frame.planes[0].update(data)
    frame.sample_rate = sample_rate
    frame.pts = first_sample
    frame.time_base = Fraction(1, sample_rate)
    return frame
