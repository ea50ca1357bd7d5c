"""The MP4 as the pipeline composes it (pipeline._draw_and_compose): the narration's AAC encoded
on its own thread, each slide handed to `composition` as drawn, a zooming slide as its layers."""

from collections import defaultdict
from pathlib import Path

import av
import pytest
from PIL import Image

from libs.contracts.script import MOTION_FPS, Transition
from services.renderer.aac import PcmAudio, SoundtrackEncoder
from services.renderer.burn_in import BurnIn, Caption, CaptionPainter
from services.renderer.compose import VideoFormat, composition
from services.renderer.motion import ZOOM_SCALE, ZoomLayers, zoomed_size

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
    transition=None,
    pauses=(),
    burn_in=None,
    on_slide=lambda index, fraction: None,
    on_audio=lambda fraction: None,
) -> Path:
    """`zooms`: by slide index, the layers that slide is drawn from instead of its picture.
    `transition` (a Transition) plays inside each scene's pause in `pauses`; `burn_in`: captions.
    `on_slide(index, fraction of its frames)` and `on_audio(fraction encoded)` hear the progress."""
    path = tmp_path / "video.mp4"
    zooms = zooms or {}
    with SoundtrackEncoder(lambda _stop: audio.as_float(), audio.sample_rate) as soundtrack:
        with composition(
            path,
            scene_starts=scene_starts,
            duration=audio.duration_sec,
            soundtrack=soundtrack,
            video=VideoFormat(width=320, height=180, fps=fps, crf=30),
            moving=set(zooms),
            burn_in=burn_in,
            **({"transition": transition, "pauses": pauses} if transition else {}),
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


PAUSES = [0.3, 0.5, 0.4]
"""Each scene's pause: the first is shorter than a transition, which it shortens."""
WINDOWS = [(0.5, 0.8), (1.5, 1.9)]
"""Where the transitions play: min(0.4 s, the pause) up to the next scene's start; none after the last."""
FADE, SLIDE = Transition(type="fade", duration_sec=0.4), Transition(type="slide", duration_sec=0.4)


def decoded(path: Path) -> list[tuple[float, Image.Image]]:
    with av.open(str(path)) as container:
        return [(float(frame.time), frame.to_image()) for frame in container.decode(video=0)]


def inside(frames: list[tuple[float, Image.Image]], window: tuple[float, float]) -> list[Image.Image]:
    start, end = window
    return [image for time, image in frames if start - 1e-6 <= time < end - 1e-6]


def dominant(pixel: tuple[int, int, int]) -> int:
    return max(range(3), key=lambda channel: pixel[channel])


def composed_in(folder: Path, slides, audio, **options) -> Path:
    folder.mkdir()
    return compose(folder, slides, audio, **options)


@pytest.mark.parametrize("fps", [None, 10])
def test_a_cut_encodes_the_same_frames_as_a_video_without_transitions(tmp_path, slides, audio, fps):
    def packets(path: Path) -> list[tuple[int | None, bool, bytes]]:
        return [(packet.pts, packet.is_keyframe, bytes(packet)) for packet in video_packets(path)]

    plain = composed_in(tmp_path / "plain", slides, audio, fps=fps)
    cut = composed_in(tmp_path / "cut", slides, audio, fps=fps, transition=Transition(type="cut"), pauses=PAUSES)
    assert packets(cut) == packets(plain)


@pytest.mark.parametrize("transition", [FADE, SLIDE])
def test_transition_frames_fill_only_the_end_of_each_pause_at_the_moving_rate(tmp_path, slides, audio, transition):
    path = compose(tmp_path, slides, audio, transition=transition, pauses=PAUSES)
    times = [time for time, _ in decoded(path)]
    in_transition = [time for time in times if any(start - 1e-6 <= time < end - 1e-6 for start, end in WINDOWS)]
    assert [time for time in times if time not in in_transition] == pytest.approx(SCENE_STARTS, abs=0.001)
    for start, end in WINDOWS:
        frames = [time for time in in_transition if start - 1e-6 <= time < end]
        assert len(frames) == round((end - start) * MOTION_FPS)
        assert frames[0] == pytest.approx(start, abs=0.001)
    # Scene starts stay the only keyframes: chapters and seeking land on them.
    keyframes = [float(packet.pts * packet.time_base) for packet in video_packets(path) if packet.is_keyframe]
    assert keyframes == pytest.approx(SCENE_STARTS, abs=0.001)


def test_the_last_scene_ends_without_a_transition(tmp_path, slides, audio):
    times = [time for time, _ in decoded(compose(tmp_path, slides, audio, transition=FADE, pauses=PAUSES))]
    assert [time for time in times if time >= SCENE_STARTS[-1] - 1e-6] == pytest.approx([SCENE_STARTS[-1]], abs=0.001)


def test_a_scene_without_a_pause_has_no_transition_after_it(tmp_path, slides, audio):
    frames = decoded(compose(tmp_path, slides, audio, transition=FADE, pauses=[0.0, *PAUSES[1:]]))
    assert [time for time, _ in frames if time < SCENE_STARTS[1]] == [0.0]
    assert len(inside(frames, WINDOWS[1])) == round(0.4 * MOTION_FPS)


def test_a_fade_dissolves_one_slide_into_the_next(tmp_path, slides, audio):
    fading = inside(decoded(compose(tmp_path, slides, audio, transition=FADE, pauses=PAUSES)), WINDOWS[0])
    reds, greens = zip(*(image.getpixel((160, 90))[:2] for image in fading))
    # From the first slide (#aa2222) towards the second (#22aa22), frame by frame.
    assert list(reds) == sorted(reds, reverse=True) and list(greens) == sorted(greens)
    red, green, blue = fading[len(fading) // 2].getpixel((160, 90))
    assert 34 + 30 < red < 170 - 30 and 34 + 30 < green < 170 - 30 and blue < 60


def test_a_slide_transition_pushes_the_next_slide_in_from_the_right(tmp_path, slides, audio):
    sliding = inside(decoded(compose(tmp_path, slides, audio, transition=SLIDE, pauses=PAUSES)), WINDOWS[1])
    middle = sliding[len(sliding) // 2]
    # The leaving slide (green) on the left, the arriving one (blue) on the right.
    assert dominant(middle.getpixel((20, 90))) == 1 and dominant(middle.getpixel((300, 90))) == 2
    arrived = [sum(dominant(image.getpixel((x, 90))) == 2 for x in range(0, 320, 2)) for image in sliding]
    assert arrived == sorted(arrived) and 0 < arrived[0] < arrived[-1] < 160


@pytest.mark.parametrize("transition", [FADE, SLIDE])
@pytest.mark.parametrize("fps", [None, 10])
def test_a_video_with_transitions_still_ends_with_the_audio(tmp_path, slides, audio, transition, fps):
    with av.open(str(compose(tmp_path, slides, audio, fps=fps, transition=transition, pauses=PAUSES))) as container:
        video_sec = stream_seconds(container.streams.video[0])
    assert video_sec == pytest.approx(AUDIO_SEC, abs=1 / (fps or MOTION_FPS))


@pytest.mark.parametrize("fps", [10, 30])
def test_constant_frame_rate_blends_the_frames_it_has_without_adding_any(tmp_path, slides, audio, fps):
    cut = video_packets(composed_in(tmp_path / "cut", slides, audio, fps=fps))
    path = composed_in(tmp_path / "fade", slides, audio, fps=fps, transition=FADE, pauses=PAUSES)
    faded = video_packets(path)
    assert [packet.pts for packet in faded] == [packet.pts for packet in cut]
    assert [packet.is_keyframe for packet in faded] == [packet.is_keyframe for packet in cut]
    fading = inside(decoded(path), WINDOWS[0])
    red, green, _ = fading[len(fading) // 2].getpixel((160, 90))
    assert 34 + 30 < red < 170 - 30 and 34 + 30 < green < 170 - 30


def test_a_zooming_slide_fades_in_as_its_scene_starts_and_out_as_it_zooms_on(tmp_path, slides, audio, zoom):
    frames = decoded(compose(tmp_path, slides, audio, zooms=zoom, transition=FADE, pauses=PAUSES))
    start, end = SCENE_STARTS[1], SCENE_STARTS[2]
    assert len(inside(frames, (start, end))) == pytest.approx((end - start) * MOTION_FPS, abs=1)
    # Arriving: the white square at its first size shows through the red slide it replaces.
    arriving = inside(frames, WINDOWS[0])[len(inside(frames, WINDOWS[0])) // 2]
    assert arriving.getpixel((160, 90))[1] > arriving.getpixel((20, 90))[1] + 60
    # Leaving: its red top band fades into the blue slide after it, frame by frame.
    band_reds = [image.getpixel((160, 10))[0] for image in inside(frames, WINDOWS[1])]
    assert band_reds == sorted(band_reds, reverse=True) and band_reds[0] > 150 and band_reds[-1] < 80


def test_a_caption_on_screen_during_a_transition_is_drawn_over_the_blend(tmp_path, slides, audio, fonts):
    caption = Caption(0.3, 0.7, ("자막",))
    box = CaptionPainter((320, 180), fonts).paint(caption)
    burn_in = BurnIn([caption], CaptionPainter((320, 180), fonts))
    frames = decoded(compose(tmp_path, slides, audio, transition=FADE, pauses=PAUSES, burn_in=burn_in))
    left, top = box.position
    in_box, above_box = (left + 2, top + 2), (left + 2, top - 4)
    with_caption = inside(frames, (WINDOWS[0][0], caption.end))
    after_caption = inside(frames, (caption.end, WINDOWS[0][1]))
    assert with_caption and after_caption

    def brightness(image: Image.Image, at: tuple[int, int]) -> int:
        return sum(image.getpixel(at))

    # The dark box over the blend, the blend around it; once the caption ends, the blend alone.
    assert all(brightness(image, in_box) < brightness(image, above_box) - 90 for image in with_caption)
    assert all(abs(brightness(image, in_box) - brightness(image, above_box)) < 15 for image in after_caption)
