"""The google engine against a local fake of Google Cloud Text-to-Speech's REST API that checks
what the real one requires (key header, voice, SSML with marks, time pointing)."""

import itertools
import json
import threading

import pytest

from services.renderer.settings import RendererSettings
from services.renderer.tts import get_engine
from services.renderer.tts.base import ProviderError, SynthesisError
from services.renderer.tts.cloud.google import STATIC_VOICES
from tests.cloud_tts_fake import FakeCloudTts, Fault, speech_pcm


@pytest.fixture
def fake():
    with FakeCloudTts() as server:
        yield server


def speak(fake: FakeCloudTts, sentences: list[str], language: str = "ko", voice: str | None = None, settings=None, **options):
    engine = get_engine("google", settings or fake.settings())
    return engine.synthesize(sentences, language, voice, threading.Event(), **options)


def bodies(fake: FakeCloudTts) -> list[dict]:
    return [json.loads(request.body) for request in fake.synthesis_requests()]


def test_each_sentence_is_spoken_by_the_named_voice_in_sentence_order(fake):
    sentences = ["안녕하세요.", "개인정보 보호 교육을 시작하겠습니다."]
    result = speak(fake, sentences, voice="ko-KR-Neural2-C")
    assert fake.problems == []
    assert {(body["voice"]["languageCode"], body["voice"]["name"]) for body in bodies(fake)} == {("ko-KR", "ko-KR-Neural2-C")}
    assert result.pcm == b"".join(speech_pcm(sentence, 24_000) for sentence in sentences)
    assert result.sample_rate == 24_000


def test_the_request_asks_for_linear16_with_mark_timepoints_and_keeps_the_key_out_of_the_url(fake):
    speak(fake, ["Hello there."], language="en")
    (request,) = fake.synthesis_requests()
    assert request.headers["X-Goog-Api-Key"] == fake.key
    assert "key=" not in request.path
    body = json.loads(request.body)
    assert body["voice"] == {"languageCode": "en-US", "name": "en-US-Neural2-F"}
    assert body["audioConfig"]["audioEncoding"] == "LINEAR16"
    assert body["enableTimePointing"] == ["SSML_MARK"]
    assert body["input"]["ssml"].startswith('<speak><mark name="w0"/>Hello <mark name="w1"/>there.')


def test_the_voices_own_sample_rate_is_kept(fake):
    fake.google_rate = 48_000
    result = speak(fake, ["Hello."], language="en", voice="en-US-Studio-O")
    assert result.sample_rate == 48_000
    assert result.pcm == speech_pcm("Hello.", 48_000)


def test_words_are_timed_from_the_marks(fake):
    sentences = ["Hello brave new world.", "안녕하세요 여러분."]
    result = speak(fake, sentences, language="en")
    assert [(word.text, word.sentence) for word in result.words] == [
        ("Hello", 0), ("brave", 0), ("new", 0), ("world.", 0), ("안녕하세요", 1), ("여러분.", 1)
    ]  # fmt: skip
    for index, (start, end) in enumerate(result.sentence_spans):
        words = [word for word in result.words if word.sentence == index]
        marks = [(f"w{number}", word.text) for number, word in enumerate(words)]
        expected = [point.get("timeSeconds", 0) for point in FakeCloudTts.timepoints(marks, end - start)]
        assert [word.start for word in words] == pytest.approx([start + offset for offset in expected])
        assert words[0].start == start, "Google leaves a mark time of 0 out of its JSON"
        assert all(word.end == following.start for word, following in itertools.pairwise(words))
        assert words[-1].end == end


@pytest.mark.parametrize("rate", [0.75, 1.0, 1.5])
def test_rate_is_the_speaking_rate(fake, rate):
    speak(fake, ["Hello."], language="en", rate=rate)
    assert bodies(fake)[0]["audioConfig"]["speakingRate"] == rate


def test_audio_content_that_is_not_base64_is_bad_audio(fake):
    fake.always = Fault(body=b'{"audioContent": "%%% not base64 %%%"}')
    with pytest.raises(ProviderError) as failed:
        speak(fake, ["Hello."], language="en")
    assert failed.value.kind == "bad_audio"


def test_a_sentence_over_googles_request_limit_is_refused_before_any_request(fake):
    with pytest.raises(SynthesisError) as refused:
        speak(fake, ["가나다라 " * 500], language="ko")
    assert not refused.value.retryable and "5000" in str(refused.value)
    assert fake.requests == []


def test_voice_list_is_fetched_once_and_becomes_the_catalog(fake):
    engine = get_engine("google", fake.settings())
    voices = engine.voices()
    assert engine.voices() == voices
    assert len([request for request in fake.requests if request.method == "GET"]) == 1
    assert fake.requests[0].path == "/v1/voices" and fake.requests[0].headers["X-Goog-Api-Key"] == fake.key
    male = next(voice for voice in voices if voice.voice == "google#ko-KR-Neural2-C")
    assert (male.engine, male.language, male.gender, male.where, male.sample_rate) == ("google", "ko-KR", "male", "cloud", 24_000)


def test_a_failing_voice_list_gives_the_static_voices(fake):
    fake.voice_list_status = 500
    assert get_engine("google", fake.settings(tts_request_timeout_sec=0.2)).voices() == STATIC_VOICES


def test_a_missing_key_makes_the_engine_unavailable_naming_the_setting():
    engine = get_engine("google", RendererSettings(google_tts_api_key=None))
    assert "GOOGLE_TTS_API_KEY" in engine.available().reason
    assert engine.voices() == []
