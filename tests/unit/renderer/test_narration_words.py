"""Words on the video's timeline from a real engine's word events: espeak-ng times Korean words,
the lexicon's said text finds its way back to the written words, and batches keep them in place."""

import itertools
import threading

import pytest

from libs.contracts.script import LexiconEntry, Scene, Script
from libs.lexicon import Pronouncer
from services.renderer.narration import narrate
from services.renderer.text import split_sentences
from services.renderer.tts import get_engine
from tests.cloud_tts_fake import FakeCloudTts
from tests.unit.renderer.test_narration_batches import BatchingEspeak

NARRATIONS = ["안녕하세요. 오늘은 개인정보 보호를 배웁니다.", "API를 호출하기 전에 토큰을 확인하세요.", "감사합니다!"]


def narrated(tmp_path, concurrency: int, pronounce: Pronouncer | None = None):
    scenes = [Scene(narration=text, pause_sec=0.5) for text in NARRATIONS]
    return narrate(
        Script(title="words", scenes=scenes),
        [split_sentences(text) for text in NARRATIONS],
        BatchingEspeak(concurrency),
        tmp_path / f"{concurrency}.pcm",
        threading.Event(),
        lambda done, total: None,
        pronounce=pronounce,
    )


def test_espeak_times_every_korean_word_inside_its_sentence(tmp_path):
    narration = narrated(tmp_path, 1)
    for sentence in narration.sentences:
        assert [word.text for word in sentence.words] == sentence.text.split()
        assert all(word.engine_timed for word in sentence.words), sentence
        assert sentence.words[0].start >= sentence.start and sentence.words[-1].end == sentence.end
        assert all(a.end == b.start and a.start < a.end for a, b in zip(sentence.words, sentence.words[1:]))
    assert [sentence.scene for sentence in narration.sentences] == [0, 0, 1, 2]


def test_batched_scenes_keep_their_words_inside_their_own_sentences(tmp_path):
    # Batched, an engine's word times are in the batch's audio: each sentence's words must be
    # moved with it onto the video's timeline, not left where the batch had them.
    alone, batched = narrated(tmp_path, 1), narrated(tmp_path, 4)
    for one, many in zip(alone.sentences, batched.sentences, strict=True):
        assert [word.text for word in one.words] == [word.text for word in many.words]
        assert many.start <= many.words[0].start < many.words[-1].end == many.end
        # And as far into its sentence as when the scene is spoken alone (within 50 ms).
        assert many.words[0].start - many.start == pytest.approx(one.words[0].start - one.start, abs=0.05)


def test_a_said_term_times_the_written_word(tmp_path):
    plain = narrated(tmp_path, 1)
    said = narrated(tmp_path, 1, Pronouncer([LexiconEntry(term="API", say="에이피아이")]))
    before, after = plain.sentences[2], said.sentences[2]
    assert after.text == before.text == "API를 호출하기 전에 토큰을 확인하세요."
    assert [word.text for word in after.words] == before.text.split()
    assert all(word.engine_timed for word in after.words)
    # 에이피아이를 takes longer to say than espeak's spelling of API를: the next word starts later.
    assert after.words[1].start - after.start != before.words[1].start - before.start


def test_google_marks_time_the_written_words_through_a_lexicon(tmp_path):
    with FakeCloudTts() as fake:
        engine = get_engine("google", fake.settings())
        scenes = [Scene(narration="API를 호출하기 전에 토큰을 확인하세요. 감사합니다!")]
        narration = narrate(
            Script(title="google", scenes=scenes),
            [split_sentences(scene.narration) for scene in scenes],
            engine,
            tmp_path / "google.pcm",
            threading.Event(),
            lambda done, total: None,
            pronounce=Pronouncer([LexiconEntry(term="API", say="에이 피 아이")]),
        )
    words = [word for sentence in narration.sentences for word in sentence.words]
    # Google marked every said word; "에이 피 아이" is three of them, all on the written "API를".
    assert [word.text for word in words] == ["API를", "호출하기", "전에", "토큰을", "확인하세요.", "감사합니다!"]
    assert all(word.engine_timed for word in words)
    assert all(a.start < b.start for a, b in itertools.pairwise(words))
