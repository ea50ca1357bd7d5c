import threading

import av
import pytest

from services.renderer.aac import PcmAudio, SoundtrackEncoder, configure_aac
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
