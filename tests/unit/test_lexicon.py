"""The pronunciation lexicon (SPEC §8.1): what is spoken for what is written."""

import re

import msgspec
import pytest

from libs.contracts.script import LexiconEntry, Script
from libs.lexicon import Pronouncer, merge, pronouncer

LEXICON = [
    LexiconEntry(term="API", say="에이피아이"),
    LexiconEntry(term="Open API", say="오픈 에이피아이"),
    LexiconEntry(term="AI", say="에이아이", case_sensitive=True),
    LexiconEntry(term="SaaS", say="사스"),
    LexiconEntry(term="C++", say="씨 플러스 플러스"),
    LexiconEntry(term="2FA", say="투에프에이"),
    LexiconEntry(term="서울", say="쏘울"),
    LexiconEntry(term="개인정보", say="개인 정보"),
    LexiconEntry(term="e-mail", say="이메일"),
    LexiconEntry(term="VPN", say="브이피엔"),
    LexiconEntry(term="Wi-Fi", say="와이파이"),
]


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        # Korean particles written onto a Latin term.
        ("API를 호출합니다.", "에이피아이를 호출합니다."),
        ("API에서는 토큰이 필요합니다.", "에이피아이에서는 토큰이 필요합니다."),
        ("VPN으로 접속하세요.", "브이피엔으로 접속하세요."),
        ("SaaS는 구독형입니다.", "사스는 구독형입니다."),
        # Longest term first, where two overlap.
        ("Open API를 공개합니다.", "오픈 에이피아이를 공개합니다."),
        ("open api와 API", "오픈 에이피아이와 에이피아이"),
        # Case: insensitive unless the entry says otherwise.
        ("api 문서", "에이피아이 문서"),
        ("AI와 ai는 다릅니다.", "에이아이와 ai는 다릅니다."),
        ("Ai 모델", "Ai 모델"),
        # A term inside another word is left alone.
        ("RAPID 개발", "RAPID 개발"),
        ("APIs", "APIs"),
        ("MAPI 설정", "MAPI 설정"),
        ("CAPTAIN", "CAPTAIN"),
        # Punctuation around a term, and terms made of punctuation.
        ("(API)", "(에이피아이)"),
        ("API, VPN.", "에이피아이, 브이피엔."),
        ("C++로 작성", "씨 플러스 플러스로 작성"),
        ("e-mail을 확인", "이메일을 확인"),
        ("Wi-Fi에 연결", "와이파이에 연결"),
        ("2FA를 켜세요", "투에프에이를 켜세요"),
        # Hangul terms: followed by a particle, not by more of a word.
        ("서울은 크다", "쏘울은 크다"),
        ("서울에서 만나요", "쏘울에서 만나요"),
        ("서울시청", "서울시청"),
        ("개인정보를 보호합니다.", "개인 정보를 보호합니다."),
        ("개인정보보호법", "개인정보보호법"),
        # Nothing to do.
        ("안녕하세요.", "안녕하세요."),
        ("", ""),
    ],
)
def test_what_is_spoken(written, spoken):
    assert Pronouncer(LEXICON)(written) == spoken


def test_an_empty_lexicon_changes_nothing():
    assert Pronouncer([])("API를") == "API를"


def test_a_say_is_not_looked_up_again():
    say_contains_a_term = Pronouncer([LexiconEntry(term="K8s", say="Kubernetes API"), *LEXICON])
    assert say_contains_a_term("K8s를") == "Kubernetes API를"


def test_the_script_wins_over_the_video_for_the_same_term():
    video = [LexiconEntry(term="API", say="에이피아이"), LexiconEntry(term="VPN", say="브이피엔")]
    script = [LexiconEntry(term="api", say="아피")]
    merged = merge(video, script)
    assert merged == [LexiconEntry(term="VPN", say="브이피엔"), LexiconEntry(term="api", say="아피")]
    assert Pronouncer(merged)("API와 VPN") == "아피와 브이피엔"
    assert merge(video, None) == video


def test_pronouncers_are_shared_between_jobs_with_the_same_lexicon():
    assert pronouncer(LEXICON) is pronouncer(list(LEXICON))


@pytest.mark.parametrize(
    ("lexicon", "where"),
    [
        ([{"term": "API", "say": "에이피아이"}, {"term": "api", "say": "아피"}], "$.lexicon[1].term"),
        ([{"term": " ", "say": "무"}], "$.lexicon[0].term"),
        ([{"term": "API", "say": "\u200b"}], "$.lexicon[0].say"),
    ],
)
def test_a_scripts_own_lexicon_is_checked_like_the_videos(lexicon, where):
    body = {"title": "t", "scenes": [{"narration": "API"}], "lexicon": lexicon}
    with pytest.raises(msgspec.ValidationError, match=re.escape(where)):
        msgspec.convert(body, Script)
