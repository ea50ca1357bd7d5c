import itertools
import re

import msgspec
import pytest

from services.renderer.subtitles import (
    NARROW_LINE_CHARS,
    WIDE_LINE_CHARS,
    Cue,
    TimedSentence,
    build_cues,
    to_srt,
    to_vtt,
    to_words_json,
)
from services.renderer.words import time_words

LONG_KOREAN = "개인정보란 살아 있는 개인에 관한 정보로서 성명 주민등록번호 영상 등을 통하여 개인을 알아볼 수 있는 정보를 말합니다"
SENTENCES = [
    TimedSentence("안녕하세요.", 0.0, 1.2),
    TimedSentence(LONG_KOREAN, 1.2, 9.0),
    TimedSentence("This English sentence is long enough to need two lines of subtitles here.", 9.0, 12.0),
]


def assert_well_formed(cues: list[Cue], duration: float) -> None:
    for previous, cue in itertools.pairwise(cues):
        assert previous.start_ms < cue.start_ms
        assert previous.end_ms <= cue.start_ms
    assert all(cue.start_ms < cue.end_ms <= round(duration * 1000) for cue in cues)
    assert all(1 <= len(cue.lines) <= 2 for cue in cues)


def test_every_sentence_gets_cues_in_order_with_at_most_two_lines():
    cues = build_cues(SENTENCES, 12.0)
    assert len(cues) >= len(SENTENCES)
    assert_well_formed(cues, 12.0)
    assert cues[0] == Cue(0, 1200, ["안녕하세요."])


def test_korean_lines_are_shorter_than_latin_ones():
    def line_lengths(sentence: TimedSentence) -> list[int]:
        return [len(line) for cue in build_cues([sentence], 12.0) for line in cue.lines]

    assert max(line_lengths(SENTENCES[1])) <= WIDE_LINE_CHARS
    assert WIDE_LINE_CHARS < max(line_lengths(SENTENCES[2])) <= NARROW_LINE_CHARS


def test_a_sentence_too_long_for_two_lines_shares_its_time_by_characters():
    sentence = TimedSentence(" ".join([LONG_KOREAN] * 3), 2.0, 20.0)
    cues = build_cues([sentence], 20.0)
    assert len(cues) > 1
    assert (cues[0].start_ms, cues[-1].end_ms) == (2000, 20000)
    assert_well_formed(cues, 20.0)
    per_char = [(cue.end_ms - cue.start_ms) / sum(map(len, cue.lines)) for cue in cues]
    assert max(per_char) == pytest.approx(min(per_char), rel=0.15)
    assert " ".join(line for cue in cues for line in cue.lines) == sentence.text


def test_korean_is_broken_between_words():
    cues = build_cues([TimedSentence(LONG_KOREAN, 0, 5)], 5)
    assert all(word in LONG_KOREAN.split() for cue in cues for line in cue.lines for word in line.split())


def test_cues_never_run_past_the_end_of_the_audio():
    cues = build_cues(SENTENCES, 10.5)
    assert cues[-1].end_ms == 10_500
    assert_well_formed(cues, 10.5)


def test_srt_numbers_cues_and_uses_comma_milliseconds():
    srt = to_srt([Cue(1234, 3_661_005, ["첫 줄", "둘째 줄"]), Cue(3_661_005, 3_662_000, ["끝"])])
    assert srt == "1\n00:00:01,234 --> 01:01:01,005\n첫 줄\n둘째 줄\n\n2\n01:01:01,005 --> 01:01:02,000\n끝\n\n"


def test_vtt_has_a_header_dot_milliseconds_and_escaped_text():
    vtt = to_vtt([Cue(0, 1500, ["a < b & c --> d"])])
    assert vtt == "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\na &lt; b &amp; c --&gt; d\n\n"


def test_formats_agree_on_every_cue():
    cues = build_cues(SENTENCES, 12.0)
    srt_times = re.findall(r"^(\d\d:\d\d:\d\d),(\d{3}) --> (\d\d:\d\d:\d\d),(\d{3})$", to_srt(cues), re.M)
    vtt_times = re.findall(r"^(\d\d:\d\d:\d\d)\.(\d{3}) --> (\d\d:\d\d:\d\d)\.(\d{3})$", to_vtt(cues), re.M)
    assert srt_times == vtt_times and len(srt_times) == len(cues)


def word_timed(text: str, start: float, end: float) -> TimedSentence:
    return TimedSentence(text, start, end, words=time_words(text, start, end, []))


def test_word_timed_cues_break_where_their_first_word_starts():
    sentence = word_timed(" ".join([LONG_KOREAN] * 2), 0.0, 20.0)
    cues = build_cues([sentence], 20.0)
    starts = {round(word.start * 1000) for word in sentence.words}
    assert len(cues) > 1 and all(cue.start_ms in starts for cue in cues)
    assert_well_formed(cues, 20.0)


def test_vtt_inline_timestamps_come_before_each_later_word_of_the_cue():
    sentence = word_timed("서울에서는 비가 옵니다. 좋아요👍", 1.0, 3.0)
    (cue,) = build_cues([sentence], 3.0)
    vtt = to_vtt([cue], word_times=True)
    later = [word for word in sentence.words if round(word.start * 1000) > cue.start_ms]
    stamps = [int(m) * 60_000 + float(s) * 1000 for m, s in re.findall(r"<00:(\d\d):(\d\d\.\d{3})>", vtt)]
    assert stamps == pytest.approx([round(word.start * 1000) for word in later])
    assert cue.start_ms < stamps[0] and stamps == sorted(stamps) and stamps[-1] < cue.end_ms
    # The emoji written against 좋아요 is a word of its own: its timestamp is inside the token.
    assert re.search(r"좋아요<00:00:\d\d\.\d{3}>👍", vtt)
    assert re.sub(r"<[\d:.]+>", "", vtt) == to_vtt([cue]) and "<" not in to_vtt([cue])


def test_words_json_lists_every_word_with_its_scene_and_timing():
    timed = TimedSentence("API를 호출합니다.", 0.0, 2.0, scene=3, words=time_words("API를 호출합니다.", 0.0, 2.0, [(0.0, 0)]))
    words = msgspec.json.decode(to_words_json([timed], 1.5))
    assert words == [
        {"start": 0.0, "end": words[0]["end"], "text": "API를", "scene": 3, "timing": "engine"},
        {"start": words[1]["start"], "end": 1.5, "text": "호출합니다.", "scene": 3, "timing": "estimated"},
    ]
    assert 0 < words[0]["end"] == words[1]["start"] < 1.5
