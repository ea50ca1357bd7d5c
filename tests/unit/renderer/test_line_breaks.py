"""Caption lines: at most two a page, broken only between words, as even as the words allow."""

import pytest

from services.renderer.line_breaks import caption_pages
from services.renderer.words import caption_words

BREAKING = [
    # (text, line limit in characters, pages)
    ("안녕하세요.", 32, [["안녕하세요."]]),
    ("서울에서는 비가 옵니다.", 10, [["서울에서는", "비가 옵니다."]]),
    ("개인정보를 안전하게 보호합시다", 10, [["개인정보를", "안전하게 보호합시다"]]),
    # Even lines: the wider of the two as narrow as the words allow (ties keep the top shorter).
    ("aaa bbb ccc ddd eee", 12, [["aaa bbb", "ccc ddd eee"]]),
    ("one two three four five six", 20, [["one two three", "four five six"]]),
    ("하나 둘 셋 넷 다섯 여섯 일곱 여덟", 12, [["하나 둘 셋 넷", "다섯 여섯 일곱 여덟"]]),
    # A page holds what two lines hold; the rest goes on the next page.
    ("가나 다라 마바 사아 자차 카타 파하", 5, [["가나 다라", "마바 사아"], ["자차", "카타 파하"]]),
    ("가나 다라 마바 사아 자차 카타 파하", 4, [["가나", "다라"], ["마바", "사아"], ["자차", "카타"], ["파하"]]),
    ("aa bb cc dd ee ff gg", 5, [["aa bb", "cc dd"], ["ee", "ff gg"]]),
    # Particles, numbers with units and Latin with particles stay whole.
    ("오늘은 10,000원입니다 그리고 3.5kg입니다", 11, [["오늘은", "10,000원입니다"], ["그리고", "3.5kg입니다"]]),
    ("API를 호출하기 전에 토큰을 확인하세요", 11, [["API를 호출하기", "전에 토큰을"], ["확인하세요"]]),
    ("Slide Reel은 좋은 도구", 10, [["Slide", "Reel은 좋은"], ["도구"]]),
    # Punctuation never starts a line; an opening mark never ends one.
    ("잠깐만요 ... 그런데 말이죠", 12, [["잠깐만요 ...", "그런데 말이죠"]]),
    ("A — B — C", 4, [["A —", "B —"], ["C"]]),
    ("그는 “안녕” 하고 말했다", 7, [["그는 “안녕”", "하고 말했다"]]),
    ("그는 “안녕” 하고 말했다", 5, [["그는", "“안녕”"], ["하고", "말했다"]]),
    ("( 참고 ) 자료를 보세요", 6, [["( 참고 )", "자료를"], ["보세요"]]),
    ("끝! 정말 끝?", 4, [["끝!", "정말"], ["끝?"]]),
    # An emoji is a word: a line may break before one written against a word.
    ("좋아요👍 정말요", 3, [["좋아요", "👍"], ["정말요"]]),
    ("축하해요🎉 🎉", 30, [["축하해요🎉 🎉"]]),
    # Spaces are the text's own; runs of them become one.
    ("하나   둘    셋", 30, [["하나 둘 셋"]]),
    ("Hello, world! How are you today?", 20, [["Hello, world! How", "are you today?"]]),
    ("2026년 12월 7일 오후 3시", 8, [["2026년", "12월 7일"], ["오후 3시"]]),
    ("日本語です", 2, [["日本", "語で"], ["す"]]),
]


def words_of(lines: list[str]) -> list[str]:
    return [word.text for line in lines for word in caption_words(line)]


@pytest.mark.parametrize(("text", "limit", "pages"), BREAKING)
def test_breaking(text, limit, pages):
    got = caption_pages(text, len, limit)
    assert got == pages
    lines = [line for page in got for line in page]
    assert all(1 <= len(page) <= 2 for page in got)
    assert all(len(line) <= limit for line in lines)
    # No line starts or ends inside a word: the lines' words are the text's words, each whole.
    assert words_of(lines) == [" ".join(word.text.split()) for word in caption_words(text)]


def test_every_breaking_rule_has_its_cases():
    assert len(BREAKING) >= 20


def test_only_a_word_wider_than_a_line_is_broken_and_between_graphemes():
    pages = caption_pages("짧다 가나다라마바사아자차카타파하 끝", len, 6)
    assert pages == [["짧다"], ["가나다라마바", "사아자차카타"], ["파하"], ["끝"]]
    assert caption_pages("👩‍💻👩‍💻👩‍💻", len, 5) == [["👩‍💻", "👩‍💻"], ["👩‍💻"]]
