"""The finished mix at broadcast loudness (SPEC §8.3): -16 LUFS integrated, true peak at most
-1 dBTP, whichever voice spoke it and whether or not music plays under it.

Loudness is ITU-R BS.1770-4's: the signal K-weighted by FFmpeg's biquad filters through PyAV,
then its 400 ms blocks gated in numpy. FFmpeg's own `ebur128` filter measures the same, but it
also works out momentary, short-term and range loudness every 100 ms, which made it 0.07 s of C
for the reference script's 140 s against 0.02 s for the two biquads and the gating; pyloudnorm
needs scipy, which is not a dependency of ours. Peaks are held by FFmpeg's `alimiter`, a
look-ahead limiter run with its delay compensated, so no sample moves in time and captions stay
where the words are.
"""

import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import numpy as np

TARGET_LUFS = -16.0
LIMITER_CEILING_DB = -2.0
"""Sample peaks are held 1 dB under the -1 dBTP limit: a peak between samples, and AAC's
coding, can each rise a few tenths of a dB above the highest sample (measured on the reference
script's decoded MP4s: the true peak sat 0.3-0.6 dB above this ceiling)."""
LOUDNESS_TOLERANCE_LU = 0.3
"""How close to TARGET_LUFS the mix must come before it is left as it is: limiting takes a
little loudness away, which one more pass gives back."""
MAX_PASSES = 4
SILENCE_LUFS = -70.0
"""BS.1770's absolute gate: below it there is nothing to measure, and nothing to raise."""
RELATIVE_GATE_LU = -10.0
BLOCK_STEPS = 4
"""A gating block is 400 ms, four 100 ms steps, one block starting at each step."""
STEP_SEC = 0.1
SHELF_HZ, SHELF_GAIN_DB, SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
HIGH_PASS_HZ, HIGH_PASS_Q = 38.13547087602444, 0.5003270373238773
"""BS.1770's K-weighting as the analog shelf and high-pass whose bilinear transforms at 48 kHz
are the standard's coefficients to their last digit: the same curve at any other sample rate."""
CHUNK_SEC = 30
"""Audio goes through the filters this much at a time, and is stopped between two chunks."""
NEVER = threading.Event()
"""A stop nobody sets."""


class Stopped(Exception):
    """The work was asked to stop: the render it was for is over."""


Filters = Sequence[tuple[str, str]]


def integrated_loudness(samples: np.ndarray, rate: int, stop: threading.Event = NEVER) -> float:
    """LUFS of mono float `samples` (SILENCE_LUFS for silence, or for less than one block).
    Raises Stopped once `stop` is set."""
    weighted = _through(samples, rate, _k_weighting(rate), stop)
    step = round(rate * STEP_SEC)
    steps = len(weighted) // step
    if steps < BLOCK_STEPS:
        return SILENCE_LUFS
    step_power = np.square(weighted[: steps * step], dtype=np.float64).reshape(steps, step).mean(axis=1)
    block_power = np.convolve(step_power, np.full(BLOCK_STEPS, 1 / BLOCK_STEPS), mode="valid")
    audible = block_power[_lufs(block_power) > SILENCE_LUFS]
    if not len(audible):
        return SILENCE_LUFS
    relative_gate = _lufs(audible.mean()) + RELATIVE_GATE_LU
    return float(_lufs(audible[_lufs(audible) > relative_gate].mean()))


def _k_weighting(rate: int) -> Filters:
    """The two K-weighting biquads at `rate`, as FFmpeg `biquad` filters."""
    k = np.tan(np.pi * SHELF_HZ / rate)
    high = 10 ** (SHELF_GAIN_DB / 20)
    band = high**0.4996667741545416  # the shelf's mid-band level, from the standard's curve
    shelf = (high + band * k / SHELF_Q + k * k, 2 * (k * k - high), high - band * k / SHELF_Q + k * k)
    shelf_poles = (1 + k / SHELF_Q + k * k, 2 * (k * k - 1), 1 - k / SHELF_Q + k * k)
    k = np.tan(np.pi * HIGH_PASS_HZ / rate)
    high_pass = (1.0, -2.0, 1.0)
    high_pass_poles = (1 + k / HIGH_PASS_Q + k * k, 2 * (k * k - 1), 1 - k / HIGH_PASS_Q + k * k)
    return [_biquad(shelf, shelf_poles), _biquad(high_pass, high_pass_poles)]


def _biquad(zeros: tuple[float, float, float], poles: tuple[float, float, float]) -> tuple[str, str]:
    # FFmpeg divides all six by a0, so neither side needs normalising here.
    return "biquad", ":".join(
        f"{name}={float(value)!r}" for name, value in zip(("b0", "b1", "b2", "a0", "a1", "a2"), (*zeros, *poles))
    )


def at_target_loudness(samples: np.ndarray, rate: int, stop: threading.Event = NEVER) -> np.ndarray:
    """`samples` (mono float) turned up or down to TARGET_LUFS, their peaks limited under
    LIMITER_CEILING_DB. Silence comes back as it is. Raises Stopped once `stop` is set."""
    loudness = integrated_loudness(samples, rate, stop)
    if loudness <= SILENCE_LUFS:
        return samples
    ceiling = _linear(LIMITER_CEILING_DB)
    for _ in range(MAX_PASSES):
        samples = samples * np.float32(_linear(TARGET_LUFS - loudness))
        if np.abs(samples).max(initial=0.0) <= ceiling:
            # A gain moves every block's loudness, and so the relative gate, by as much: the
            # mix is at the target now, and measuring it again would only say so.
            break
        samples = _through(samples, rate, [("alimiter", f"limit={ceiling}:level=0:latency=1:attack=5:release=50")], stop)
        loudness = integrated_loudness(samples, rate, stop)
        if abs(loudness - TARGET_LUFS) <= LOUDNESS_TOLERANCE_LU:
            break
    return samples


def _through(samples: np.ndarray, rate: int, filters: Filters, stop: threading.Event) -> np.ndarray:
    """`samples` after the FFmpeg `filters`, in order; raises Stopped once `stop` is set."""
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
    for frame in _frames(samples, rate):
        if stop.is_set():
            raise Stopped
        graph.push(frame)
        _drain(graph, pieces)
    graph.push(None)
    _drain(graph, pieces)
    return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


def _frames(samples: np.ndarray, rate: int) -> Iterator[av.AudioFrame]:
    step = rate * CHUNK_SEC
    for first in range(0, len(samples), step):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[None, first : first + step], dtype=np.float32), format="flt", layout="mono"
        )
        frame.sample_rate, frame.pts, frame.time_base = rate, first, Fraction(1, rate)
        yield frame


def _drain(graph: av.filter.Graph, pieces: list[np.ndarray]) -> None:
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            return
        pieces.append(frame.to_ndarray()[0])


def _linear(db: float) -> float:
    return float(10 ** (db / 20))


def _lufs(power):
    """BS.1770's loudness of a mean square power (K-weighted), for a value or an array of them."""
    return -0.691 + 10 * np.log10(np.maximum(power, 1e-20))
