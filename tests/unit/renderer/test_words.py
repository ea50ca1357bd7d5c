"""Caption words: Korean-aware tokenizing, and timing words from engine events or by estimate."""

import itertools

import pytest

from libs.contracts.script import LexiconEntry
from libs.lexicon import Pronouncer
from services.renderer.words import caption_words, spoken_weight, time_words

TOKENIZING = [
    # Korean words (eojeol) keep their particles and endings.
    ("안녕하세요.", ["안녕하세요."]),
    ("서울에서는 비가 옵니다.", ["서울에서는", "비가", "옵니다."]),
    ("개인정보를 안전하게 보호합시다", ["개인정보를", "안전하게", "보호합시다"]),
    ("회사의 규정은 모두에게 적용됩니다.", ["회사의", "규정은", "모두에게", "적용됩니다."]),
    # Mixed Korean and English: a Latin word with a particle is one word.
    ("API를 호출합니다.", ["API를", "호출합니다."]),
    ("Slide Reel은 좋다", ["Slide", "Reel은", "좋다"]),
    ("e-mail과 A/V 설정", ["e-mail과", "A/V", "설정"]),
    ("Hello, world!", ["Hello,", "world!"]),
    ("PDF 파일을 PPTX로 바꾸세요", ["PDF", "파일을", "PPTX로", "바꾸세요"]),
    # Numbers keep their units and particles.
    ("오늘은 10,000원입니다.", ["오늘은", "10,000원입니다."]),
    ("무게는 3.5kg이고 50% 할인!", ["무게는", "3.5kg이고", "50%", "할인!"]),
    ("3시 30분에 만나요!", ["3시", "30분에", "만나요!"]),
    ("2026년 12월 7일", ["2026년", "12월", "7일"]),
    ("버전 2.0.1을 설치하세요", ["버전", "2.0.1을", "설치하세요"]),
    # Emoji are words, even against a word.
    ("좋아요👍 정말요?", ["좋아요", "👍", "정말요?"]),
    ("👍🏽 최고", ["👍🏽", "최고"]),
    ("국기 🇰🇷 입니다", ["국기", "🇰🇷", "입니다"]),
    ("1️⃣ 첫째", ["1️⃣", "첫째"]),
    ("👩\u200d💻개발자", ["👩\u200d💻", "개발자"]),
    ("축하해요🎉!", ["축하해요", "🎉!"]),
    # Quotes and brackets: closing ones to the word before, opening ones to the word after.
    ("그는 “안녕”이라고 말했다.", ["그는", "“안녕”이라고", "말했다."]),
    ('그는 " 안녕 " 했다', ["그는", '" 안녕 "', "했다"]),
    ("'인용' 끝", ["'인용'", "끝"]),
    ("(참고) 자료", ["(참고)", "자료"]),
    ("끝 (", ["끝 ("]),
    ("「 참고 」 자료", ["「 참고 」", "자료"]),
    # Ellipses and dashes belong to the word before.
    ("잠깐만요… 그런데", ["잠깐만요…", "그런데"]),
    ("잠깐만요 ... 그런데", ["잠깐만요 ...", "그런데"]),
    ("A — B", ["A —", "B"]),
    ("... 그래서", ["... 그래서"]),
    # Han in a Korean word stays in it; Japanese has a word per character.
    ("(韓國)의 역사", ["(韓國)의", "역사"]),
    ("日本語です", ["日", "本", "語", "で", "す"]),
    # Nothing to say: no word, or one word of marks.
    ("", []),
    ("   ", []),
    ("!!!", ["!!!"]),
]


@pytest.mark.parametrize(("sentence", "expected"), TOKENIZING)
def test_tokenizing(sentence, expected):
    words = caption_words(sentence)
    assert [word.text for word in words] == expected
    # Each word is the span of the sentence it shows, in order, never overlapping.
    assert all(sentence[word.start : word.end] == word.text for word in words)
    assert all(before.end <= after.start for before, after in itertools.pairwise(words))
    assert "".join(sentence.split()) == "".join("".join(word.text.split()) for word in words)


def test_every_tokenizing_rule_has_its_cases():
    assert len(TOKENIZING) >= 30


def test_weights_count_syllables():
    assert [spoken_weight(text) for text in ("안녕하세요.", "API를", "👍", "...", "2026년")] == [5, 3, 1, 1, 5]


def test_engine_starts_time_their_words_and_the_rest_are_estimated_between():
    words = time_words("서울에서는 비가 옵니다.", 1.0, 3.0, [(1.0, 0), (1.9, 6)])
    assert [(word.text, word.start, word.engine_timed) for word in words] == [
        ("서울에서는", 1.0, True),
        ("비가", 1.9, True),
        # Between 비가's start and the sentence's end, by syllables: 비가 2, 옵니다. 3.
        ("옵니다.", pytest.approx(1.9 + 1.1 * 2 / 5), False),
    ]
    assert [word.end for word in words] == [words[1].start, words[2].start, 3.0]


def test_without_engine_words_the_sentence_is_shared_by_syllables():
    words = time_words("좋아요👍 정말요?", 0.0, 7.0, [])
    assert [(word.start, word.end) for word in words] == [(0.0, 3.0), (3.0, 4.0), (4.0, 7.0)]
    assert not any(word.engine_timed for word in words)


def test_an_event_that_runs_backwards_or_outside_the_sentence_is_not_used():
    words = time_words("a b c d", 0.0, 4.0, [(2.5, 2), (1.0, 4), (9.0, 6)])
    assert [word.engine_timed for word in words] == [False, True, False, False]
    starts = [word.start for word in words]
    assert starts == sorted(starts) and words[-1].end == 4.0


def test_an_acronym_spelled_letter_by_letter_takes_its_first_event():
    words = time_words("KBS 뉴스", 0.0, 2.0, [(0.0, 0), (0.3, 1), (0.6, 2), (1.0, 4)])
    assert [(word.text, word.start) for word in words] == [("KBS", 0.0), ("뉴스", 1.0)]
    assert all(word.engine_timed for word in words)


def test_said_terms_map_back_to_where_they_were_written():
    pronounce = Pronouncer([LexiconEntry(term="API", say="에이피아이"), LexiconEntry(term="Slide Reel", say="슬라이드 릴")])
    written = "새 API를 Slide Reel로 부릅니다"
    spoken = pronounce.spoken(written)
    assert spoken.text == "새 에이피아이를 슬라이드 릴로 부릅니다" == pronounce(written)
    # Every word the engine would time in the said text lands on the written word it says.
    said_words = caption_words(spoken.text)
    written_words = [written[spoken.written_at(word.start) :].split()[0] for word in said_words]
    assert written_words == ["새", "API를", "Slide", "Slide", "부릅니다"]
    starts = [(float(number), spoken.written_at(word.start)) for number, word in enumerate(said_words)]
    timed = time_words(written, 0.0, 5.0, starts)
    # "Reel로" has no word of its own in the said text: it is placed by syllables (2 and 2)
    # between the term's start and the next timed word.
    expected = [("새", 0.0, True), ("API를", 1.0, True), ("Slide", 2.0, True), ("Reel로", 3.0, False), ("부릅니다", 4.0, True)]
    assert [(word.text, word.start, word.engine_timed) for word in timed] == expected
