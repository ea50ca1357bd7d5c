"""Speaking rate for engines that have no rate of their own: the speech is played faster or
slower at the same pitch (FFmpeg's atempo filter through PyAV), at its own sample rate."""

from fractions import Fraction
from typing import cast

import av
import av.filter

from services.renderer.tts.base import SAMPLE_WIDTH


def change_tempo(pcm: bytes, sample_rate: int, rate: float) -> bytes:
    """16-bit mono `pcm` spoken `rate` times as fast (0.5-2.0, atempo's range in every FFmpeg)."""
    if rate == 1.0 or not pcm:
        return pcm
    graph = av.filter.Graph()
    source = graph.add(
        "abuffer", sample_rate=str(sample_rate), sample_fmt="s16", channel_layout="mono", time_base=f"1/{sample_rate}"
    )
    tempo = graph.add("atempo", tempo=f"{rate:.4f}")
    sink = graph.add("abuffersink")
    source.link_to(tempo)
    tempo.link_to(sink)
    graph.configure()
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // SAMPLE_WIDTH)
    frame.planes[0].update(pcm)
    frame.sample_rate = sample_rate
    frame.pts = 0
    frame.time_base = Fraction(1, sample_rate)
    graph.push(frame)
    graph.push(None)
    out = bytearray()
    while True:
        try:
            result = cast(av.AudioFrame, graph.pull())  # an audio-only graph
        except (av.error.BlockingIOError, av.error.EOFError):
            break
        out += bytes(result.planes[0])[: result.samples * SAMPLE_WIDTH]
    return bytes(out)
