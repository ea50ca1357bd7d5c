import av
import pytest

from services.renderer.aac import NarrationEncoder, configure_aac

from .conftest import write_tone

RATE = 22050


def encode(encoder: NarrationEncoder, output) -> bytes:
    """The encoder's packets muxed into an M4A at `output`; returns its bytes."""
    with av.open(str(output), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=RATE)
        configure_aac(stream.codec_context, RATE)
        for packet in encoder.packets():
            packet.stream = stream
            container.mux(packet)
    return output.read_bytes()


def at_once(pcm, output) -> bytes:
    with NarrationEncoder(pcm) as encoder:
        encoder.written(pcm.stat().st_size, RATE)
        encoder.end()
        return encode(encoder, output)


def decoded_samples(path) -> int:
    with av.open(str(path)) as container:
        return sum(frame.samples for frame in container.decode(audio=0))


def test_a_narration_followed_scene_by_scene_encodes_as_if_read_at_once(tmp_path):
    whole = write_tone(tmp_path / "whole.pcm", 2.5)
    pcm = tmp_path / "growing.pcm"
    data = whole.read_bytes()
    scene_ends = [12_346, 50_000, len(data)]  # scenes end anywhere, even inside an encoder chunk

    with NarrationEncoder(pcm) as encoder, pcm.open("wb") as narration:
        start = 0
        for end in scene_ends:
            narration.write(data[start:end])
            narration.flush()
            encoder.written(end, RATE)
            start = end
        encoder.end()
        followed = encode(encoder, tmp_path / "followed.m4a")

    assert followed == at_once(whole, tmp_path / "whole.m4a")


def test_only_what_was_announced_is_encoded(tmp_path):
    pcm = write_tone(tmp_path / "narration.pcm", 2.0)
    announced = pcm.stat().st_size // 2
    with NarrationEncoder(pcm) as encoder:
        encoder.written(announced, RATE)  # the rest is a scene still being written
        encoder.end()
        encode(encoder, tmp_path / "half.m4a")
    # AAC rounds up to whole 1024-sample frames.
    assert decoded_samples(tmp_path / "half.m4a") == pytest.approx(announced // 2, abs=2048)


def test_restart_forgets_a_narration_that_started_over(tmp_path):
    pcm = tmp_path / "narration.pcm"
    with NarrationEncoder(pcm) as encoder:
        write_tone(pcm, 3.0)
        encoder.written(pcm.stat().st_size, RATE)  # a voice that then fails
        encoder.restart()
        write_tone(pcm, 1.0)  # the fallback voice's narration, shorter
        encoder.written(pcm.stat().st_size, RATE)
        encoder.end()
        restarted = encode(encoder, tmp_path / "restarted.m4a")
    assert restarted == at_once(pcm, tmp_path / "fallback.m4a")


def test_a_file_shorter_than_announced_is_an_error_on_the_callers_thread(tmp_path):
    pcm = write_tone(tmp_path / "narration.pcm", 0.5)
    with NarrationEncoder(pcm) as encoder:
        encoder.written(pcm.stat().st_size + 4410, RATE)
        encoder.end()
        with pytest.raises(OSError, match="before the"):
            encoder.packets()


def test_ending_before_any_audio_is_refused(tmp_path):
    with NarrationEncoder(tmp_path / "narration.pcm") as encoder, pytest.raises(ValueError):
        encoder.end()
