"""The tests' own ear: an MP4's audio decoded and measured with meters of their own (pyloudnorm
for BS.1770 loudness, scipy for true peaks), not with the FFmpeg filters the renderer levels by."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pyloudnorm
from scipy.signal import resample_poly

TRUE_PEAK_OVERSAMPLING = 4
"""BS.1770-4 Annex 2: true peaks are sample peaks of the signal oversampled four times."""


def decoded_audio(path: Path) -> tuple[np.ndarray, int]:
    """The first audio stream of `path` as mono float samples, and its sample rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = [frame.to_ndarray().astype(np.float64) for frame in container.decode(stream)]
        rate = stream.codec_context.sample_rate
    return np.concatenate(frames, axis=1).mean(axis=0), rate


def loudness_lufs(samples: np.ndarray, rate: int) -> float:
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def true_peak_dbtp(samples: np.ndarray, rate: int) -> float:
    oversampled = resample_poly(samples, TRUE_PEAK_OVERSAMPLING, 1)
    return float(20 * np.log10(np.abs(oversampled).max()))


def level_db(samples: np.ndarray, rate: int, frequency: float) -> float:
    """The level of one frequency in `samples` (a windowed DFT bin), in dB: how loud a steady
    tone is under whatever else plays."""
    window = np.hanning(len(samples))
    times = np.arange(len(samples)) / rate
    amplitude = abs(np.sum(samples * window * np.exp(-2j * np.pi * frequency * times))) * 2 / window.sum()
    return float(20 * np.log10(max(amplitude, 1e-12)))


def write_tone_file(
    path: Path, seconds: float, *, frequency: float = 330, rate: int = 44100, channels: int = 2, codec: str = "flac"
) -> None:
    """A steady tone at half of full scale as an audio file a team might upload: stereo by
    default, at another rate than any voice's."""
    times = np.arange(round(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * frequency * times)).astype(np.float32)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo" if channels == 2 else "mono")
        for first in range(0, len(tone), rate):
            chunk = np.tile(tone[first : first + rate], (channels, 1))
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout=stream.layout.name)
            frame.sample_rate, frame.pts, frame.time_base = rate, first, Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
