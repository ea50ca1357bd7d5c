import dataclasses
import itertools
import logging
import threading

import pytest

from services.renderer.settings import RendererSettings
from services.renderer.tts import engine_names, get_engine, usable_engines
from services.renderer.tts.base import SAMPLE_WIDTH, SynthesisCanceled, SynthesisResult


def synthesize(sentences, language="ko", voice=None, cancel=None, on_sentence=None) -> SynthesisResult:
    return get_engine("espeak").synthesize(sentences, language, voice, cancel or threading.Event(), on_sentence)


def assert_spans_tile_the_audio(result: SynthesisResult, count: int) -> None:
    spans = result.sentence_spans
    assert len(spans) == count
    assert spans[0][0] == 0
    assert all(start < end for start, end in spans)
    assert all(previous[1] == span[0] for previous, span in itertools.pairwise(spans))
    assert spans[-1][1] == pytest.approx(result.duration_sec, abs=1e-9)


@pytest.mark.parametrize(
    ("language", "sentences"),
    [("ko", ["안녕하세요.", "개인정보 보호 교육을 시작하겠습니다."]), ("en", ["Hello there.", "This is a test."])],
)
def test_espeak_speaks_each_sentence_with_exact_offsets(language, sentences):
    result = synthesize(sentences, language)
    assert result.sample_rate == 22050
    assert len(result.pcm) % SAMPLE_WIDTH == 0
    assert result.duration_sec > 1
    assert_spans_tile_the_audio(result, len(sentences))


def test_longer_sentence_gets_a_longer_span():
    short, long = synthesize(
        ["네.", "개인정보는 살아 있는 개인에 관한 정보로서 성명과 주민등록번호를 포함합니다."]
    ).sentence_spans
    assert long[1] - long[0] > 2 * (short[1] - short[0])


def test_unknown_voice_and_language_fall_back_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        result = synthesize(["Hello."], language="zz", voice="no-such-voice")
    assert result.duration_sec > 0.2
    assert "no-such-voice" in caplog.text and "'zz'" in caplog.text


def test_voice_override_changes_the_sound():
    default = synthesize(["Hello there, friend."], language="en")
    overridden = synthesize(["Hello there, friend."], language="en", voice="en+f3")
    assert overridden.pcm != default.pcm


def test_hostile_text_does_not_crash_the_engine():
    sentences = ["😀👨‍👩‍👧 emoji", "zero\u200bwidth\u200djoiner", "שלום עולם", "x" * 5_000, "<speak>&amp;</speak>"]
    assert_spans_tile_the_audio(synthesize(sentences, "en"), len(sentences))


def test_cancel_between_sentences_stops_synthesis():
    cancel = threading.Event()
    done = []

    def cancel_after_first(count: int) -> None:
        done.append(count)
        cancel.set()

    with pytest.raises(SynthesisCanceled):
        synthesize(["하나.", "둘.", "셋."], cancel=cancel, on_sentence=cancel_after_first)
    assert done == [1]


def test_cancel_during_a_sentence_aborts_it():
    cancel = threading.Event()
    threading.Timer(0.01, cancel.set).start()
    with pytest.raises(SynthesisCanceled):
        synthesize(["이 문장은 아주 길게 이어집니다. " * 400], cancel=cancel)


def test_engines_are_found_by_name():
    assert "espeak" in engine_names()
    with pytest.raises(KeyError, match="espeak"):
        get_engine("coqui-not-installed")


def test_a_worker_offers_the_engines_that_can_run_and_says_why_the_others_cannot(tmp_path):
    unconfigured = RendererSettings(
        asset_dir=tmp_path, coqui_model_dir=None, supertonic_model_dir=None, azure_speech_key=None, google_tts_api_key=None
    )
    usable, reasons = usable_engines(unconfigured)
    # Cloud engines are offered unconfigured (a job asking for one fails at once, naming the
    # setting); local engines only with their model.
    assert usable == ["azure", "espeak", "google"]
    assert "COQUI_MODEL_DIR" in reasons["coqui"] or "install-coqui" in reasons["coqui"]
    assert "AZURE_SPEECH_KEY" in reasons["azure"] and "GOOGLE_TTS_API_KEY" in reasons["google"]
    assert "SUPERTONIC_MODEL_DIR" in reasons["supertonic"]
    _, reasons = usable_engines(dataclasses.replace(unconfigured, coqui_model_dir=tmp_path / "missing"))
    assert "does not exist" in reasons["coqui"] or "install-coqui" in reasons["coqui"]
