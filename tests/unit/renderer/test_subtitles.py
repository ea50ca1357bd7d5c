import itertools
import re

import pytest

from services.renderer.subtitles import (
    NARROW_LINE_CHARS,
    WIDE_LINE_CHARS,
    Cue,
    TimedSentence,
    build_cues,
    to_srt,
    to_vtt,
)

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
