"""A music bed under the narration (SPEC §8.3 `"music"`): looped or cut to the video's length,
faded in and out, and ducked while the narration speaks.

The ducking follows the narration's own timeline (each sentence's start and end as the TTS
timed it), not the levels of the mix: the bed starts dropping ATTACK_SEC before the first word
rather than after it, and a breath inside a sentence never lifts it.
"""

import math
import threading
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np

from libs.contracts.script import Music
from services.renderer.loudness import NEVER, Stopped

ATTACK_SEC = 0.2
"""How long the bed takes to drop, ending as the narration starts."""
RELEASE_SEC = 0.5
"""How long it takes to come back once the narration stops (SPEC: at most 0.6 s)."""
CURVE_POINTS_PER_SEC = 1000
LOOP_CROSSFADE_SEC = 0.05
"""Where a loop starts over, the end fades into the start instead of jumping: no click."""


class MusicUnreadable(Exception):
    """The stored music does not decode: another attempt would fare no better."""


def decoded_music(path: Path, rate: int, samples: int, stop: threading.Event = NEVER) -> np.ndarray:
    """The first `samples` of the music file (fewer when it is shorter) as mono float at `rate`;
    raises Stopped once `stop` is set."""
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
    pieces: list[np.ndarray] = []
    have = 0
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(audio=0):
                if stop.is_set():
                    raise Stopped
                for out in resampler.resample(frame):
                    pieces.append(out.to_ndarray()[0])
                    have += out.samples
                if have >= samples:
                    break
            else:
                pieces += [out.to_ndarray()[0] for out in resampler.resample(None)]
    except (av.error.InvalidDataError, av.error.DecoderNotFoundError, IndexError) as error:
        raise MusicUnreadable(f"the music does not decode: {error}") from error
    music = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    return music[:samples].astype(np.float32, copy=False)


def looped(music: np.ndarray, samples: int, rate: int) -> np.ndarray:
    """`music` repeated until it is `samples` long (or cut there), each repeat crossfaded into
    the one before it over LOOP_CROSSFADE_SEC."""
    if len(music) >= samples:
        return music[:samples]
    if not len(music):
        return np.zeros(samples, np.float32)
    overlap = min(round(LOOP_CROSSFADE_SEC * rate), len(music) // 4)
    piece = music.copy()
    if overlap:
        ramp = np.linspace(0.0, 1.0, overlap, endpoint=False, dtype=np.float32)
        piece[:overlap] *= ramp
        piece[-overlap:] *= ramp[::-1]
    period = len(music) - overlap
    bed = np.zeros(samples + len(piece), np.float32)
    for start in range(0, samples, period):
        bed[start : start + len(piece)] += piece
    return bed[:samples]


def bed_gain(music: Music, speech: Iterable[tuple[float, float]], samples: int, rate: int) -> np.ndarray:
    """The bed's gain for each sample (1 = its own level): lowered by `duck_db` across each
    stretch of speech, and faded in and out over `fade_sec`."""
    duration = samples / rate
    # Shaped at CURVE_POINTS_PER_SEC, then drawn out to every sample: the cosine and the power
    # over each sample were 0.08 s of the reference script's 0.13 s of gain, and the ramps
    # (0.2 s at the shortest) are smooth lines between points a millisecond apart.
    times = np.arange(math.ceil(duration * CURVE_POINTS_PER_SEC) + 1) / CURVE_POINTS_PER_SEC
    ducking = _smooth(np.interp(times, *_ducking_points(speech)))
    gain = np.power(10.0, music.duck_db * ducking / 20)
    if music.fade_sec > 0:
        gain *= _smooth(np.clip(np.minimum(times, duration - times) / music.fade_sec, 0.0, 1.0))
    return np.interp(np.arange(samples) / rate, times, gain).astype(np.float32)


def _ducking_points(speech: Iterable[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """Breakpoints (time, how far ducked from 0 to 1) of a curve that is 1 through each stretch
    of speech, ramps down ATTACK_SEC before it and back up RELEASE_SEC after it. Stretches
    closer than the two ramps together are one: the bed does not bob up between sentences."""
    merged: list[list[float]] = []
    for start, end in sorted(speech):
        if merged and start - ATTACK_SEC <= merged[-1][1] + RELEASE_SEC:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    times, levels = [-1.0], [0.0]
    for start, end in merged:
        times += [start - ATTACK_SEC, start, end, end + RELEASE_SEC]
        levels += [0.0, 1.0, 1.0, 0.0]
    return times, levels


def _smooth(ramp: np.ndarray) -> np.ndarray:
    """A 0-to-1 ramp eased at both ends (a raised cosine): no corner where a fade starts or stops."""
    return 0.5 - 0.5 * np.cos(np.pi * ramp)
