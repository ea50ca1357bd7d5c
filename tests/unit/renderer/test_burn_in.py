"""Burned-in captions: what is on screen when, where the box goes in every frame shape, the YUV
shortcut against a whole-frame conversion, and the frames a composition makes for them."""

import itertools

import av
import numpy as np
import pytest
from PIL import Image

from services.renderer.aac import PcmAudio, SoundtrackEncoder
from services.renderer.burn_in import (
    READABLE_SIZE,
    SAFE_AREA,
    SPOKEN_COLOUR,
    BurnIn,
    Caption,
    CaptionPainter,
    StillFrame,
    burned,
    captions_on_screen,
)
from services.renderer.compose import VideoFormat, composition
from services.renderer.motion import ZoomLayers, zoomed_size
from services.renderer.subtitles import WIDE_LINE_CHARS, Cue, TimedSentence, build_cues
from services.renderer.words import time_words
from services.renderer.yuv import to_yuv

from .conftest import write_tone

SIZES = [(1920, 1080), (1080, 1920), (1080, 1080), (1080, 1350), (640, 360), (360, 640)]
CUE = Cue(1000, 4000, ["서울에서는 비가", "옵니다 👍"], [(0, 6, 2000), (1, 0, 3000), (1, 4, 3500)])


def composed(path, slide: Image.Image | ZoomLayers, burn_in: BurnIn, seconds: float):
    """A 320×180 MP4 of one scene showing `slide` (zooming if it is layers) under `burn_in`."""
    audio = PcmAudio(path=write_tone(path.with_suffix(".pcm"), seconds), sample_rate=22050)
    with SoundtrackEncoder(lambda _stop: audio.as_float(), audio.sample_rate) as soundtrack:
        with composition(
            path,
            scene_starts=[0.0],
            duration=audio.duration_sec,
            soundtrack=soundtrack,
            video=VideoFormat(width=320, height=180, fps=None, crf=30),
            moving={0} if isinstance(slide, ZoomLayers) else set(),
            burn_in=burn_in,
        ) as mp4:
            mp4.add_slide(slide, lambda fraction: None)
            mp4.finish(lambda fraction: None)
    return path


def test_without_highlight_a_caption_is_its_cue():
    assert captions_on_screen([CUE], highlight=False) == [Caption(1.0, 4.0, ("서울에서는 비가", "옵니다 👍"))]


def test_with_highlight_each_word_is_marked_from_its_start_to_the_next():
    captions = captions_on_screen([CUE], highlight=True)
    assert [(caption.start, caption.end, caption.spoken) for caption in captions] == [
        (1.0, 2.0, (0, 0, 5)),  # 서울에서는
        (2.0, 3.0, (0, 6, 8)),  # 비가 (to the line's end)
        (3.0, 3.5, (1, 0, 3)),  # 옵니다
        (3.5, 4.0, (1, 4, 5)),  # 👍
    ]


def test_changes_are_caption_starts_and_the_ends_of_captions_with_a_gap_after():
    burn_in = BurnIn(
        [Caption(0.0, 1.0, ("a",)), Caption(1.0, 2.0, ("b",)), Caption(2.5, 3.0, ("c",))], CaptionPainter((320, 180), None)
    )
    assert burn_in.changes() == [0.0, 1.0, 2.0, 2.5, 3.0]


LONG_LINES = ("개인정보란 살아 있는 개인에 관한 정보로서 성명 주민등록번호", "영상 등을 통하여 개인을 알아볼 수 있는 정보 👍🏽🇰🇷")
LONG_LATIN = ("The quick brown fox jumps over the lazy dog, again", "and then some more words for the second line")


@pytest.mark.parametrize("size", SIZES)
# The last: the widest line a subtitle cue has (a word longer than a line is broken to it).
@pytest.mark.parametrize("lines", [("짧은 자막",), LONG_LINES, LONG_LATIN, ("가" * WIDE_LINE_CHARS,)])
def test_the_box_is_inside_the_central_ninety_percent_and_even(fonts, size, lines):
    box = CaptionPainter(size, fonts).paint(Caption(0, 1, lines))
    width, height = size
    left, top = box.position
    box_width, box_height = box.cue.size
    margin_x, margin_y = width * (1 - SAFE_AREA) / 2, height * (1 - SAFE_AREA) / 2
    assert margin_x <= left and left + box_width <= width - margin_x, (box.position, box.cue.size)
    assert margin_y <= top and top + box_height <= height - margin_y, (box.position, box.cue.size)
    assert all(value % 2 == 0 for value in (left, top, box_width, box_height))
    # In the lower half, where captions are looked for.
    assert top > height / 2


def test_a_word_too_wide_for_the_frame_gets_a_smaller_font_rather_than_leaving_it(fonts):
    painter = CaptionPainter((640, 360), fonts)
    short = painter.paint(Caption(0, 1, ("짧다",))).cue.font.size
    long = painter.paint(Caption(0, 1, ("가" * 60,))).cue.font.size
    assert long < short


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lines", [LONG_LINES, LONG_LATIN])
def test_subtitle_lines_stay_readable_in_every_format_broken_between_words_where_narrow(fonts, size, lines):
    cue = CaptionPainter(size, fonts).paint(Caption(0, 1, lines)).cue
    assert cue.font.size >= round(min(size) * READABLE_SIZE)
    for number, line in enumerate(lines):
        rows = [row.text for row in cue.rows if row.line == number]
        assert " ".join(rows) == line and all(line[row.first :].startswith(row.text) for row in cue.rows if row.line == number)
    # A 16:9 frame keeps the subtitle file's lines; a narrow one breaks them.
    assert (len(cue.rows) == len(lines)) == (size[0] > size[1])


def test_a_spoken_word_on_the_second_row_of_a_broken_line_is_marked_there(fonts):
    line = LONG_LINES[0]
    spoken = (0, line.rindex(" ") + 1, len(line))  # 주민등록번호, on the line's second row in 9:16
    box = CaptionPainter((1080, 1920), fonts).paint(Caption(0, 1, LONG_LINES, spoken))
    x0, y0, x1, y1 = box.cue.spoken_columns(spoken)
    assert y0 >= box.cue.line_height, "on the second row"
    drawn = np.asarray(box.picture.convert("RGB")).astype(int)
    target = np.array(Image.new("RGB", (1, 1), SPOKEN_COLOUR).getpixel((0, 0)))
    rows, columns = np.nonzero(np.abs(drawn - target).sum(axis=2) < 60)
    assert rows.size and y0 <= rows.min() and rows.max() < y1 and x0 <= columns.min() and columns.max() < x1


def test_the_spoken_word_is_drawn_in_its_colour_and_only_it(fonts):
    painter = CaptionPainter((1920, 1080), fonts)
    caption = Caption(0, 1, ("하나 둘 셋",), (0, 3, 4))
    box = painter.paint(caption)
    spoken = np.asarray(box.picture.convert("RGB")).astype(int)
    target = np.array(Image.new("RGB", (1, 1), SPOKEN_COLOUR).getpixel((0, 0)))
    yellow = np.abs(spoken - target).sum(axis=2) < 60
    columns = np.nonzero(yellow.any(axis=0))[0]
    x0, _, x1, _ = box.cue.spoken_columns(caption.spoken)
    assert columns.size and x0 <= columns.min() and columns.max() < x1
    # The same caption unmarked has no word in that colour.
    plain = np.asarray(painter.paint(Caption(0, 1, ("하나 둘 셋",))).picture.convert("RGB")).astype(int)
    assert not (np.abs(plain - target).sum(axis=2) < 60).any()


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)])
@pytest.mark.parametrize(("lines", "spoken"), [(CUE.lines, None), (CUE.lines, (1, 4, 6)), (LONG_LINES, (0, 28, 34))])
def test_the_yuv_shortcut_matches_converting_the_whole_frame(fonts, size, lines, spoken):
    slide = Image.linear_gradient("L").resize(size).convert("RGB")
    box = CaptionPainter(size, fonts).paint(Caption(0, 1, tuple(lines), spoken))
    shortcut = StillFrame(slide).with_caption(box).to_ndarray().astype(int)
    whole = to_yuv(burned(slide, box)).to_ndarray().astype(int)
    # The chroma filter reads across the box's edge in one and not the other: a level at most.
    assert np.abs(shortcut - whole).max() <= 2 and np.abs(shortcut - whole).mean() < 0.01


def test_a_still_slide_gets_a_frame_per_caption_change_and_holds_it(tmp_path, fonts):
    sentences = [TimedSentence("하나 둘 셋 넷", 0.2, 1.4), TimedSentence("다섯 여섯", 1.6, 2.4)]
    sentences = [TimedSentence(s.text, s.start, s.end, words=time_words(s.text, s.start, s.end, [])) for s in sentences]
    cues = build_cues(sentences, 2.6)
    for highlight, expected in ((False, [0.0, 0.2, 1.4, 1.6, 2.4]), (True, [0.0, 0.2, 0.68, 0.92, 1.16, 1.4, 1.6, 2.0, 2.4])):
        burn_in = BurnIn(captions_on_screen(cues, highlight), CaptionPainter((320, 180), fonts))
        path = composed(tmp_path / f"{highlight}.mp4", Image.new("RGB", (320, 180), "#1e2a4a"), burn_in, 2.6)
        with av.open(str(path)) as container:
            frames = [(round(float(frame.time), 3), frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
        assert [time for time, _ in frames] == pytest.approx(expected, abs=0.002)
        # A frame differs from the one before it: none is encoded for nothing.
        assert all(np.abs(a.astype(int) - b.astype(int)).max() > 30 for (_, a), (_, b) in itertools.pairwise(frames))


def test_a_zooming_picture_carries_the_caption_on_every_frame_it_is_on(tmp_path, fonts):
    width, height = zoomed_size((320, 180))
    picture = Image.new("RGB", (width, height), "white")
    picture.save(tmp_path / "zoom.ppm")
    layers = ZoomLayers(picture=tmp_path / "zoom.ppm", overlay=None)
    caption = Caption(0.5, 1.5, ("사진 위의 자막",))
    box = CaptionPainter((320, 180), fonts).paint(caption)
    path = composed(tmp_path / "zoom.mp4", layers, BurnIn([caption], CaptionPainter((320, 180), fonts)), 2.0)
    left, top = box.position
    box_width, box_height = box.cue.size
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            region = np.asarray(frame.to_image().convert("L"))[top : top + box_height, left : left + box_width]
            # The dark box over the white picture while the caption is on, and only then.
            assert (np.median(region) < 128) == (0.5 <= float(frame.time) < 1.5), frame.time
