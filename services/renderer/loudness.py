"""The finished mix at broadcast loudness (SPEC §8.3): -16 LUFS integrated, true peak at most
-1 dBTP, whichever voice spoke it and whether or not music plays under it.

Measured by FFmpeg's `ebur128` filter through PyAV (ITU-R BS.1770-4: K-weighting, 400 ms
blocks, absolute and relative gates) rather than by pyloudnorm: it is C already inside PyAV's
FFmpeg and reads 140 s of 24 kHz audio in ~0.1 s, where pyloudnorm needs scipy (not one of our
dependencies) and numpy passes over the signal for its filters. Peaks are held by FFmpeg's
`alimiter`, a look-ahead limiter run with its delay compensated, so no sample moves in time and
captions stay where the words are.
"""

from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import numpy as np

TARGET_LUFS = -16.0
MAX_TRUE_PEAK_DBTP = -1.0
LIMITER_CEILING_DB = -2.0
"""Sample peaks are held 1 dB under the true-peak limit: a peak between samples, and AAC's
coding, can each rise a few tenths of a dB above the highest sample (measured on the reference
script's decoded MP4s: the true peak sat 0.3-0.6 dB above this ceiling)."""
LOUDNESS_TOLERANCE_LU = 0.3
"""How close to TARGET_LUFS the mix must come before it is left as it is: limiting takes a
little loudness away, which one more pass gives back."""
MAX_PASSES = 4
SILENCE_LUFS = -70.0
"""BS.1770's absolute gate: below it there is nothing to measure, and nothing to raise."""
CHUNK_SEC = 4
"""Audio goes through the filters this much at a time."""
Filters = Sequence[tuple[str, str]]


def integrated_loudness(samples: np.ndarray, rate: int) -> float:
    """LUFS of mono float `samples` (SILENCE_LUFS for silence)."""
    _, metadata = _through(samples, rate, [("ebur128", "metadata=1")])
    return float(metadata.get("lavfi.r128.I", SILENCE_LUFS))


def true_peak_dbtp(samples: np.ndarray, rate: int) -> float:
    """The highest peak between samples too (ebur128's 4× oversampling), in dBTP."""
    _, metadata = _through(samples, rate, [("ebur128", "metadata=1:peak=true")])
    return _db(float(metadata.get("lavfi.r128.true_peak", 0.0)))


def at_target_loudness(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` (mono float) turned up or down to TARGET_LUFS, their peaks limited under
    LIMITER_CEILING_DB. Silence comes back as it is."""
    loudness = integrated_loudness(samples, rate)
    if loudness <= SILENCE_LUFS:
        return samples
    ceiling = _linear(LIMITER_CEILING_DB)
    for _ in range(MAX_PASSES):
        samples = samples * np.float32(_linear(TARGET_LUFS - loudness))
        if np.abs(samples).max(initial=0.0) > ceiling:
            samples, _ = _through(samples, rate, [("alimiter", f"limit={ceiling}:level=0:latency=1:attack=5:release=50")])
        loudness = integrated_loudness(samples, rate)
        if abs(loudness - TARGET_LUFS) <= LOUDNESS_TOLERANCE_LU:
            break
    return samples


def _through(samples: np.ndarray, rate: int, filters: Filters) -> tuple[np.ndarray, dict[str, str]]:
    """`samples` after the FFmpeg `filters`, in order, and the metadata of the last frame out
    (where ebur128 leaves its running results, the whole signal's once it is all through)."""
    graph = av.filter.Graph()
    previous = graph.add_abuffer(format="flt", sample_rate=rate, layout="mono", time_base=Fraction(1, rate))
    for name, arguments in filters:
        node = graph.add(name, arguments)
        previous.link_to(node)
        previous = node
    # Back as planar float: alimiter works in doubles, and its output must come back as ours.
    out_format = graph.add("aformat", f"sample_fmts=fltp:channel_layouts=mono:sample_rates={rate}")
    previous.link_to(out_format)
    out_format.link_to(graph.add("abuffersink"))
    graph.configure()
    pieces: list[np.ndarray] = []
    metadata: dict[str, str] = {}
    for frame in _frames(samples, rate):
        graph.push(frame)
        metadata = _drain(graph, pieces, metadata)
    graph.push(None)
    metadata = _drain(graph, pieces, metadata)
    out = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return out, metadata


def _frames(samples: np.ndarray, rate: int) -> Iterator[av.AudioFrame]:
    step = rate * CHUNK_SEC
    for first in range(0, len(samples), step):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[None, first : first + step], dtype=np.float32), format="flt", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = rate, first, Fraction(1, rate)
        yield frame


def _drain(graph: av.filter.Graph, pieces: list[np.ndarray], metadata: dict[str, str]) -> dict[str, str]:
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return metadata
        pieces.append(frame.to_ndarray()[0])
        metadata = dict(frame.metadata) or metadata


def _linear(db: float) -> float:
    return float(10 ** (db / 20))


def _db(linear: float) -> float:
    return float(20 * np.log10(max(linear, 1e-10)))
