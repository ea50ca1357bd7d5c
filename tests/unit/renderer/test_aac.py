import threading
from fractions import Fraction

import av
import numpy as np
import pytest

from services.renderer.aac import AAC_FRAME, SPLIT_MIN_SEC, PcmAudio, SoundtrackEncoder, configure_aac, quiet_join
from services.renderer.loudness import Stopped

from .conftest import write_tone

RATE = 22050


def encode(encoder: SoundtrackEncoder, output) -> None:
    """The encoder's packets muxed into an M4A at `output`."""
    with av.open(str(output), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=RATE)
        configure_aac(stream.codec_context, RATE)
        for packet in encoder.packets():
            packet.stream = stream
            container.mux(packet)


def decoded_samples(path) -> int:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


def test_the_whole_soundtrack_is_encoded_and_its_progress_reaches_one(tmp_path):
    audio = PcmAudio(path=write_tone(tmp_path / "soundtrack.pcm", 2.5), sample_rate=RATE)
    with SoundtrackEncoder(lambda _stop: audio.as_float(), RATE) as encoder:
        encode(encoder, tmp_path / "soundtrack.m4a")
        assert encoder.wait(0) and encoder.fraction == 1.0
    # AAC rounds up to whole 1024-sample frames.
    assert decoded_samples(tmp_path / "soundtrack.m4a") == pytest.approx(audio.samples, abs=2048)


def test_a_soundtrack_that_cannot_be_read_is_an_error_on_the_callers_thread(tmp_path):
    audio = PcmAudio(path=write_tone(tmp_path / "soundtrack.pcm", 0.5), sample_rate=RATE)
    encoder = SoundtrackEncoder(lambda _stop: audio.as_float(), RATE)
    audio.path.unlink()  # gone between the mix and the encoding
    with encoder, pytest.raises(FileNotFoundError):
        encoder.packets()


def test_a_mix_that_fails_is_an_error_on_the_callers_thread():
    def mix(_stop: threading.Event):
        raise OSError("the music file went missing")

    with SoundtrackEncoder(mix, RATE) as encoder, pytest.raises(OSError, match="went missing"):
        encoder.packets()


def test_leaving_the_block_stops_a_mix_still_running():
    """A canceled render leaves the block and waits for this thread: the mix is told to stop."""
    started = threading.Event()
    heeded = []

    def mix(stop: threading.Event):
        started.set()
        heeded.append(stop.wait(timeout=60))
        raise Stopped

    with SoundtrackEncoder(mix, RATE):
        started.wait()
    assert heeded == [True]


def tone_with_noise(seconds: float) -> np.ndarray:
    """A loud tone whose level swells, with noise: every AAC frame has something to code."""
    t = np.arange(round(seconds * RATE)) / RATE
    swell = (1 + np.sin(2 * np.pi * 0.3 * t)) / 2
    noise = np.random.default_rng(1).standard_normal(len(t))
    return (0.6 * np.sin(2 * np.pi * 220 * t) * swell + 0.02 * noise).astype(np.float32)


def one_encoder(samples: np.ndarray) -> list[av.Packet]:
    context = av.CodecContext.create("aac", "w")
    configure_aac(context, RATE)
    packets = []
    for first in range(0, len(samples), RATE):
        frame = av.AudioFrame.from_ndarray(samples[None, first : first + RATE], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, first, Fraction(1, RATE)
        packets += context.encode(frame)
    return packets + context.encode(None)


def decoded(packets: list[av.Packet]) -> np.ndarray:
    decoder = av.CodecContext.create("aac", "r")
    decoder.sample_rate, decoder.layout = RATE, "mono"
    pieces = [frame.to_ndarray()[0] for packet in [*packets, None] for frame in decoder.decode(packet)]
    return np.concatenate(pieces)[AAC_FRAME:]  # the encoder's delay


def test_a_long_soundtrack_encoded_in_two_halves_joins_without_a_seam():
    samples = tone_with_noise(SPLIT_MIN_SEC + 10)
    join = quiet_join(samples, RATE)
    assert join is not None and join % AAC_FRAME == 0
    with SoundtrackEncoder(lambda _stop: samples, RATE) as encoder:
        halves = encoder.packets()
        assert encoder.fraction == 1.0
    whole = one_encoder(samples)
    assert [packet.pts for packet in halves] == [packet.pts for packet in whole]

    near = slice(join - 4 * AAC_FRAME, join + 4 * AAC_FRAME)
    coding_error = np.abs(decoded(whole)[near] - samples[near]).max()
    join_error = np.abs(decoded(halves)[near] - samples[near]).max()
    # A join without the encoders' overlap clicks: 5x the coding error on this tone. With it, the
    # second encoder codes a little coarser than one that ran from the start (its rate control
    # has only its preroll behind it), about 1.1-1.4x here.
    assert join_error <= coding_error * 1.5, (join_error, coding_error)


def test_the_halves_join_where_the_soundtrack_is_quietest_near_its_middle():
    samples = tone_with_noise(SPLIT_MIN_SEC * 2)
    middle = len(samples) // 2
    pause = slice(middle + RATE // 2, middle + RATE)  # half a second of silence just after the middle
    samples[pause] = 0
    assert pause.start <= quiet_join(samples, RATE) <= pause.stop
    assert quiet_join(samples[: round(SPLIT_MIN_SEC * RATE) - 1], RATE) is None
