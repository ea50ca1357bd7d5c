"""The azure engine against a local fake of Azure's TTS REST API that checks what the real one
requires (key header, SSML content type, output format, well-formed SSML naming a voice)."""

import itertools
import logging
import threading
from xml.etree import ElementTree

import pytest

from services.renderer.settings import RendererSettings, Secret
from services.renderer.tts import get_engine
from services.renderer.tts.base import SynthesisError
from services.renderer.tts.cloud.azure import STATIC_VOICES, AzureConfig
from tests.cloud_tts_fake import SSML_NAMESPACE, XML_LANG, FakeCloudTts, speech_pcm


@pytest.fixture
def fake():
    with FakeCloudTts() as server:
        yield server


def speak(fake: FakeCloudTts, sentences: list[str], language: str = "ko", voice: str | None = None, **options):
    return get_engine("azure", fake.settings()).synthesize(sentences, language, voice, threading.Event(), **options)


def test_each_sentence_is_spoken_by_the_named_voice_at_24_khz_in_sentence_order(fake):
    sentences = ["안녕하세요.", "개인정보 보호 교육을 시작하겠습니다.", "감사합니다."]
    result = speak(fake, sentences, voice="ko-KR-InJoonNeural")
    assert fake.problems == []
    assert sorted(request.spoken for request in fake.synthesis_requests()) == sorted(sentences)
    assert {request.voice for request in fake.synthesis_requests()} == {"ko-KR-InJoonNeural"}
    assert result.sample_rate == 24_000
    assert result.pcm == b"".join(speech_pcm(sentence, 24_000) for sentence in sentences)
    spans = result.sentence_spans
    assert spans[0][0] == 0 and spans[-1][1] == pytest.approx(result.duration_sec)
    assert all(previous[1] == span[0] for previous, span in itertools.pairwise(spans))
    assert result.words == []


def test_the_request_carries_the_headers_and_ssml_azure_requires(fake):
    speak(fake, ["Hello there."], language="en")
    (request,) = fake.synthesis_requests()
    assert request.headers["Ocp-Apim-Subscription-Key"] == fake.key
    assert request.headers["Content-Type"] == "application/ssml+xml"
    assert request.headers["X-Microsoft-OutputFormat"] == "riff-24khz-16bit-mono-pcm"
    assert request.headers["User-Agent"] == "slidereel"
    speak_element = ElementTree.fromstring(request.body)
    assert speak_element.get(XML_LANG) == "en-US"
    voice = speak_element.find(f"{SSML_NAMESPACE}voice")
    assert voice.get("name") == "en-US-JennyNeural"
    assert voice.find(f"{SSML_NAMESPACE}break") is not None, "sentences must not run together"


@pytest.mark.parametrize(("language", "voice"), [("ko", "ko-KR-SunHiNeural"), ("en", "en-US-JennyNeural")])
def test_without_a_voice_the_language_default_speaks(fake, language, voice):
    speak(fake, ["Hello."], language=language)
    assert fake.synthesis_requests()[0].voice == voice


def test_a_voice_that_is_not_a_voice_name_falls_back_to_the_default_with_a_warning(fake, caplog):
    with caplog.at_level(logging.WARNING):
        speak(fake, ["Hello."], language="ko", voice="not a voice")
    assert fake.synthesis_requests()[0].voice == "ko-KR-SunHiNeural"
    assert "not a voice" in caplog.text


def test_a_language_without_a_default_voice_is_refused_before_any_request(fake):
    with pytest.raises(SynthesisError) as refused:
        speak(fake, ["Sawubona."], language="zu")
    assert not refused.value.retryable and "azure#" in str(refused.value)
    assert fake.requests == []


def test_markup_characters_in_the_text_are_spoken_not_parsed(fake):
    text = "If A < B && C > D, say \"yes\" 'now'\x07."
    speak(fake, [text], language="en")
    assert fake.problems == []
    assert fake.synthesis_requests()[0].spoken == text.replace("\x07", "")


@pytest.mark.parametrize(("rate", "prosody"), [(1.0, "+0%"), (1.5, "+50%"), (0.8, "-20%")])
def test_rate_is_ssml_prosody(fake, rate, prosody):
    speak(fake, ["Hello."], language="en", rate=rate)
    prosody_element = ElementTree.fromstring(fake.synthesis_requests()[0].body).find(f".//{SSML_NAMESPACE}prosody")
    assert prosody_element.get("rate") == prosody


def test_voice_list_is_fetched_once_and_becomes_the_catalog(fake):
    engine = get_engine("azure", fake.settings())
    voices = engine.voices()
    assert engine.voices() == voices
    assert len([request for request in fake.requests if request.method == "GET"]) == 1
    sun_hi = next(voice for voice in voices if voice.voice == "azure#ko-KR-SunHiNeural")
    assert (sun_hi.engine, sun_hi.language, sun_hi.name, sun_hi.gender) == ("azure", "ko-KR", "Sun-Hi", "female")
    assert (sun_hi.kind, sun_hi.where, sun_hi.sample_rate) == ("neural", "cloud", 24_000)


def test_a_failing_voice_list_gives_the_static_voices(fake):
    fake.voice_list_status = 503
    assert get_engine("azure", fake.settings(tts_request_timeout_sec=0.2)).voices() == STATIC_VOICES


def test_missing_key_or_region_makes_the_engine_unavailable_naming_the_setting():
    no_key = RendererSettings(azure_speech_key=None, azure_speech_region="koreacentral")
    assert "AZURE_SPEECH_KEY" in get_engine("azure", no_key).available().reason
    no_region = RendererSettings(azure_speech_key=Secret("k" * 32), azure_speech_region=None, azure_speech_endpoint=None)
    assert "AZURE_SPEECH_REGION" in get_engine("azure", no_region).available().reason
    no_scheme = RendererSettings(azure_speech_key=Secret("k" * 32), azure_speech_endpoint="koreacentral.example")
    assert "AZURE_SPEECH_ENDPOINT" in get_engine("azure", no_scheme).available().reason
    with pytest.raises(SynthesisError) as refused:
        get_engine("azure", no_key).synthesize(["Hello."], "en", None, threading.Event())
    assert not refused.value.retryable and "AZURE_SPEECH_KEY" in str(refused.value)
    assert get_engine("azure", no_key).voices() == []


def test_the_default_endpoint_is_the_regions():
    settings = RendererSettings(azure_speech_key=Secret("k"), azure_speech_region="koreacentral", azure_speech_endpoint=None)
    assert AzureConfig.from_settings(settings).base_url == "https://koreacentral.tts.speech.microsoft.com"


def test_one_engine_per_process_for_the_same_settings(fake):
    assert get_engine("azure", fake.settings()) is get_engine("azure", fake.settings())
    assert get_engine("azure", fake.settings()) is not get_engine("azure", fake.settings(tts_concurrency=2))


def test_the_key_is_masked_in_the_settings_and_engine_reprs(fake):
    engine = get_engine("azure", fake.settings())
    assert fake.key not in repr(fake.settings()) + repr(engine.config)
