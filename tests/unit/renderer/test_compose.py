"""The MP4 as the pipeline composes it (pipeline._draw_and_compose): the narration's AAC encoded
on its own thread, each slide handed to `composition` as drawn, a zooming slide as its layers."""

from collections import defaultdict
from pathlib import Path

import av
import pytest
from PIL import Image

from libs.contracts.script import MOTION_FPS
from services.renderer.aac import NarrationEncoder
from services.renderer.compose import PcmAudio, VideoFormat, composition
from services.renderer.motion import ZOOM_SCALE, ZoomLayers, zoomed_size
from services.renderer.tts.base import SAMPLE_WIDTH

from .conftest import stream_seconds, video_packets, write_tone

SCENE_STARTS = [0.0, 0.8, 1.9]
AUDIO_SEC = 2.6
TOLERANCE = 0.05


@pytest.fixture
def slides() -> list[Image.Image]:
    return [Image.new("RGB", (320, 180), colour) for colour in ["#aa2222", "#22aa22", "#2222aa"]]


@pytest.fixture
def audio(tmp_path):
    return PcmAudio(path=write_tone(tmp_path / "narration.pcm", AUDIO_SEC), sample_rate=22050)


def compose(
    tmp_path,
    slides,
    audio,
    *,
    fps=None,
    zooms=None,
    scene_starts=SCENE_STARTS,
    on_slide=lambda index, fraction: None,
    on_audio=lambda fraction: None,
) -> Path:
    """`zooms`: by slide index, the layers that slide is drawn from instead of its picture.
    `on_slide(index, fraction of its frames)` and `on_audio(fraction encoded)` hear the progress."""
    path = tmp_path / "video.mp4"
    zooms = zooms or {}
    with NarrationEncoder(audio.path) as narration:
        narration.written(audio.samples * SAMPLE_WIDTH, audio.sample_rate)
        narration.end()
        with composition(
            path,
            scene_starts=scene_starts,
            duration=audio.duration_sec,
            narration=narration,
            video=VideoFormat(width=320, height=180, fps=fps, crf=30),
            moving=set(zooms),
        ) as mp4:
            for index, slide in enumerate(slides):
                mp4.add_slide(zooms.get(index, slide), lambda fraction, index=index: on_slide(index, fraction))
            mp4.finish(on_audio)
    return path


@pytest.fixture
def zoom(tmp_path) -> dict[int, ZoomLayers]:
    """The middle slide zooms: a white square on black, fitted larger, under a red top band."""
    width, height = zoomed_size((320, 180))
    picture = Image.new("RGB", (width, height), "black")
    picture.paste("white", (width // 2 - 40, height // 2 - 40, width // 2 + 40, height // 2 + 40))
    picture.save(tmp_path / "zoom.ppm")
    bands = Image.new("RGBA", (320, 180), (0, 0, 0, 0))
    bands.paste((255, 0, 0, 255), (0, 0, 320, 20))
    bands.save(tmp_path / "bands.png")
    return {1: ZoomLayers(picture=tmp_path / "zoom.ppm", overlay=tmp_path / "bands.png")}


def white_width(image: Image.Image) -> int:
    """Pixels of the white square along the frame's middle row."""
    return sum(1 for x in range(image.width) if min(image.getpixel((x, image.height // 2))) > 200)


def test_mp4_has_one_h264_yuv420p_stream_and_one_aac_stream(tmp_path, slides, audio):
    with av.open(str(compose(tmp_path, slides, audio))) as container:
        video, sound = container.streams.video, container.streams.audio
        assert len(video) == 1 and len(sound) == 1
        assert (video[0].codec_context.name, video[0].codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (sound[0].codec_context.name, sound[0].codec_context.sample_rate) == ("aac", 22050)


def test_moov_comes_before_media_data_for_fast_start(tmp_path, slides, audio):
    data = compose(tmp_path, slides, audio).read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


def test_variable_frame_rate_encodes_one_keyframe_per_slide_at_its_scene_start(tmp_path, slides, audio):
    packets = video_packets(compose(tmp_path, slides, audio))
    assert len(packets) == len(slides)
    assert all(packet.is_keyframe for packet in packets)
    starts = [float(packet.pts * packet.time_base) for packet in packets]
    assert starts == pytest.approx(SCENE_STARTS, abs=TOLERANCE)


def test_slides_keep_their_scene_starts_after_the_muxer_has_written_the_header(tmp_path):
    """More slides than the encoder holds back: the first packets are muxed (and the header
    written, which gives the stream a finer time base) while later slides are still added."""
    count = 40
    slides = [Image.new("RGB", (320, 180), (number * 6, 0, 0)) for number in range(count)]
    starts = [number * 0.5 for number in range(count)]
    audio = PcmAudio(path=write_tone(tmp_path / "narration.pcm", count * 0.5), sample_rate=22050)
    packets = video_packets(compose(tmp_path, slides, audio, scene_starts=starts))
    assert [float(packet.pts * packet.time_base) for packet in packets] == pytest.approx(starts, abs=0.001)


def test_decoded_frames_show_each_slide_in_turn(tmp_path, slides, audio):
    with av.open(str(compose(tmp_path, slides, audio))) as container:
        centres = [frame.to_image().getpixel((160, 90)) for frame in container.decode(video=0)]
    dominant = [max(range(3), key=lambda channel: pixel[channel]) for pixel in centres]
    assert dominant == [0, 1, 2]


@pytest.mark.parametrize("fps", [None, 10, 30])
def test_video_ends_with_the_audio(tmp_path, slides, audio, fps):
    with av.open(str(compose(tmp_path, slides, audio, fps=fps))) as container:
        video_sec = stream_seconds(container.streams.video[0])
        audio_sec = stream_seconds(container.streams.audio[0])
    assert video_sec == pytest.approx(AUDIO_SEC, abs=TOLERANCE)
    assert audio_sec == pytest.approx(AUDIO_SEC, abs=TOLERANCE)


def test_constant_frame_rate_gives_fps_frames_a_second_with_a_keyframe_at_each_scene(tmp_path, slides, audio):
    packets = video_packets(compose(tmp_path, slides, audio, fps=10))
    assert len(packets) == pytest.approx(AUDIO_SEC * 10, abs=1)
    keyframe_times = [float(packet.pts * packet.time_base) for packet in packets if packet.is_keyframe]
    for start in SCENE_STARTS:
        assert any(abs(time - start) < 0.1 + 1e-9 for time in keyframe_times), start


def test_progress_rises_to_one_through_each_slide_and_then_the_audio(tmp_path, slides, audio):
    by_slide: dict[int, list[float]] = defaultdict(list)
    audio_fractions: list[float] = []
    compose(
        tmp_path,
        slides,
        audio,
        on_slide=lambda index, fraction: by_slide[index].append(fraction),
        on_audio=audio_fractions.append,
    )
    assert sorted(by_slide) == list(range(len(slides)))
    for fractions in [*by_slide.values(), audio_fractions]:
        assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


@pytest.mark.parametrize("raising_in", ["on_slide", "on_audio"])
def test_an_exception_in_a_progress_callback_stops_encoding(tmp_path, slides, audio, raising_in):
    """How a cancel stops the encoding: the pipeline's progress callback raises RenderCanceled."""

    class Stop(Exception):
        pass

    def stop(*_):
        raise Stop

    with pytest.raises(Stop):
        compose(tmp_path, slides, audio, **{raising_in: stop})


@pytest.mark.parametrize("fps", [None, 10])
def test_a_zooming_slide_grows_frame_by_frame_under_bands_that_hold_still(tmp_path, slides, audio, zoom, fps):
    with av.open(str(compose(tmp_path, slides, audio, fps=fps, zooms=zoom))) as container:
        frames = [(float(frame.time), frame.to_image()) for frame in container.decode(video=0)]
    start, end = SCENE_STARTS[1], SCENE_STARTS[2]
    moving = [image for time, image in frames if start - 1e-6 <= time < end]
    assert len(moving) == pytest.approx((end - start) * (fps or MOTION_FPS), abs=1)
    widths = [white_width(image) for image in moving]
    assert widths == sorted(widths), widths
    # From the picture scaled down to the frame, to its middle shown at full size.
    assert widths[0] == pytest.approx(80 / ZOOM_SCALE, abs=3) and widths[-1] == pytest.approx(80, abs=4)
    assert all(image.getpixel((160, 10))[0] > 200 and image.getpixel((160, 10))[1] < 60 for image in moving)
    if fps is None:  # the still slides stay one frame each
        assert len(frames) == len(moving) + 2
