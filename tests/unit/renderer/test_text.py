import pytest

from libs.contracts.script import is_blank
from services.renderer.text import MAX_SENTENCE_CHARS, clean_text, graphemes, split_sentences, wrap


def test_korean_narration_splits_after_each_sentence_mark():
    text = "안녕하세요. 교육을 시작합니다! 준비되셨나요? 네… 그럼 갑니다"
    assert split_sentences(text) == ["안녕하세요.", "교육을 시작합니다!", "준비되셨나요?", "네…", "그럼 갑니다"]


def test_decimal_points_and_quotes_do_not_break_sentences_wrongly():
    text = 'Pi is 3.14 today. He said "stop." Then left.'
    assert split_sentences(text) == ["Pi is 3.14 today.", 'He said "stop."', "Then left."]


def test_newlines_and_full_width_marks_end_sentences():
    assert split_sentences("첫 줄\n둘째 줄。셋째！넷째") == ["첫 줄", "둘째 줄。", "셋째！", "넷째"]


@pytest.mark.parametrize(
    "sentence",
    ["가나다라마, " * 40, "word " * 80, "x" * 5_000],
    ids=["commas", "spaces", "one-huge-word"],
)
def test_long_sentences_are_cut_short_without_losing_text(sentence):
    pieces = split_sentences(sentence)
    assert len(pieces) > 1
    assert all(0 < len(piece) <= MAX_SENTENCE_CHARS for piece in pieces)
    assert "".join(pieces).replace(" ", "") == sentence.replace(" ", "")


def test_long_sentence_prefers_cutting_after_a_comma_to_a_space():
    clause = "앞부분도 제법 길어서 한 줄의 삼분의 일을 넘기는 절입니다,"
    sentence = clause + " 뒷부분은 아주 길게 이어지는 문장입니다" * 5
    assert split_sentences(sentence)[0] == clause


def test_blank_and_invisible_text_has_no_sentences():
    assert split_sentences(" \n\t\u200b\u200d \x07") == []
    assert is_blank("\u200b \n")
    assert not is_blank("😀")


def test_cleaning_replaces_controls_and_lone_surrogates_but_keeps_line_breaks():
    assert clean_text("a\x07b\r\nc\ud800d\te") == "a b\nc\ufffdd e"


def test_cleaning_composes_decomposed_hangul():
    decomposed = "\u1112\u1161\u11ab"  # 한 as conjoining jamo
    assert clean_text(decomposed) == "한"


def test_wrap_breaks_between_words_and_splits_words_longer_than_a_line():
    lines = wrap("안녕하세요 여러분 " + "x" * 25 + " 끝", lambda line: len(line) <= 10)
    assert lines == ["안녕하세요 여러분", "x" * 10, "x" * 10, "x" * 5 + " 끝"]


def test_wrap_keeps_explicit_line_breaks():
    assert wrap("하나\n둘 셋", lambda line: len(line) <= 20) == ["하나", "둘 셋"]


def test_graphemes_keep_emoji_sequences_flags_keycaps_and_marks_whole():
    england = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
    text = f"가👩‍💻🇰🇷🇺🇸👍🏽1️⃣{england}e\u0301 ☎️"
    assert graphemes(text) == ["가", "👩‍💻", "🇰🇷", "🇺🇸", "👍🏽", "1️⃣", england, "e\u0301", " ", "☎️"]


def test_a_trailing_zwj_does_not_glue_the_next_word_on():
    assert graphemes("👩\u200d 가") == ["👩\u200d", " ", "가"]


def test_wrap_breaks_a_long_word_between_graphemes_never_inside_one():
    word = "👩‍💻" * 5 + "🇰🇷" * 3
    lines = wrap(word, lambda line: len(line) <= 7)
    assert lines == ["👩‍💻" * 2, "👩‍💻" * 2, "👩‍💻🇰🇷🇰🇷", "🇰🇷"]
