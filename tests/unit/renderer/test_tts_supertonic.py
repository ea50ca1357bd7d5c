"""The supertonic engine on a stand-in model built at test time (tests/supertonic_model.py),
loaded and run by the real code: onnxruntime sessions, text to ids, duration, flow-matching
steps, vocoder."""

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from services.renderer.settings import RendererSettings
from services.renderer.tts import get_engine, usable_engines
from services.renderer.tts.base import SAMPLE_WIDTH, SynthesisCanceled, SynthesisError, UsageCounter
from services.renderer.tts.supertonic import PAUSE_SEC, SupertonicEngine
from services.renderer.tts.supertonic_files import COMPLETION_MARKER, ModelFile, read_completion, write_completion_marker
from services.renderer.tts.supertonic_text import pieces, spoken_form
from tests.supertonic_model import (
    SAMPLE_RATE,
    SECONDS_PER_CHARACTER,
    TONE_HZ,
    VOICE_LOUDNESS,
    build_stand_in_model,
)

SETTING = "SUPERTONIC_MODEL_DIR"
FETCH = "slidereel voices fetch supertonic"
FULL_SCALE = 32767


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_stand_in_model(tmp_path_factory.mktemp("models") / "supertonic")


@pytest.fixture
def model_copy(model_dir, tmp_path) -> Path:
    """A copy the test may damage."""
    return Path(shutil.copytree(model_dir, tmp_path / "supertonic"))


def engine(folder: Path | None, *, threads: int = 1, steps: int = 5) -> SupertonicEngine:
    return get_engine("supertonic", RendererSettings(supertonic_model_dir=folder, supertonic_threads_setting=threads,
                                                     supertonic_steps=steps))  # fmt: skip


def samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def expected_samples(sentence: str, language: str, rate: float = 1.0) -> int:
    """What the stand-in's duration predictor makes of one sentence, and the pause after it."""
    speech = round(len(spoken_form(sentence, language)) * SECONDS_PER_CHARACTER / rate * SAMPLE_RATE)
    return speech + round(PAUSE_SEC / rate * SAMPLE_RATE)


@pytest.mark.parametrize(
    ("language", "sentences"),
    [
        ("ko", ["안녕하세요.", "개인정보 보호 교육을 시작하겠습니다."]),
        ("en", ["Hello.", "This sentence is quite a bit longer."]),
    ],
)
def test_speaks_each_sentence_at_the_models_own_rate_with_spans_that_tile_the_audio(model_dir, language, sentences):
    voice = engine(model_dir)
    assert voice.available().ok
    voice.check(sentences, language, None)
    result = voice.synthesize(sentences, language, None, threading.Event())
    assert result.sample_rate == SAMPLE_RATE == 44_100
    spans = result.sentence_spans
    assert spans[0][0] == 0 and spans[0][1] == spans[1][0]
    assert spans[-1][1] == pytest.approx(len(result.pcm) / SAMPLE_WIDTH / SAMPLE_RATE, abs=1e-9)
    lengths = [round((end - start) * SAMPLE_RATE) for start, end in spans]
    assert lengths == [expected_samples(sentence, language) for sentence in sentences]


def test_the_voice_named_speaks_a_clean_tone_after_all_the_flow_steps(model_dir):
    """The stand-in's latent reaches the voice's level only after steps 0..total-1 of one loop."""
    sentence = "Hello."
    for voice_name, loudness in VOICE_LOUDNESS.items():
        result = engine(model_dir, steps=3).synthesize([sentence], "en", voice_name, threading.Event())
        speech = samples(result.pcm)[: expected_samples(sentence, "en") - round(PAUSE_SEC * SAMPLE_RATE)]
        ideal = loudness * FULL_SCALE * np.sin(2 * np.pi * TONE_HZ * np.arange(len(speech)) / SAMPLE_RATE)
        assert np.abs(speech - ideal).max() < 0.002 * FULL_SCALE, voice_name
        assert not samples(result.pcm)[len(speech) :].any()


@pytest.mark.parametrize("rate", [0.5, 2.0])
def test_the_rate_scales_the_predicted_duration(model_dir, rate):
    sentence = "The rate changes how long this takes."
    normal = engine(model_dir).synthesize([sentence], "en", None, threading.Event())
    scaled = engine(model_dir).synthesize([sentence], "en", None, threading.Event(), rate=rate)
    assert len(scaled.pcm) // SAMPLE_WIDTH == expected_samples(sentence, "en", rate)
    assert scaled.duration_sec == pytest.approx(normal.duration_sec / rate, rel=1e-3)


def test_a_long_sentence_is_spoken_in_parts_split_at_clause_ends(model_dir):
    """The model is given at most 120 characters of Korean at once; each part is followed by a pause."""
    sentence = ", ".join(["보안 교육을 시작합니다"] * 12) + "."
    parts = pieces(sentence, "ko")
    assert len(parts) == 2 and all(len(part) <= 120 and part.endswith((",", ".")) for part in parts)
    assert " ".join(parts) == sentence
    result = engine(model_dir).synthesize([sentence], "ko", None, threading.Event())
    assert len(result.pcm) // SAMPLE_WIDTH == sum(expected_samples(part, "ko") for part in parts)


def test_the_thread_setting_sizes_onnxruntimes_pool(model_dir):
    voice = engine(model_dir, threads=3)
    assert voice.threads == 3
    voice.check(["네."], "ko", None)
    assert voice._model().threads == 3


def test_the_model_is_loaded_once_per_process(model_dir):
    first, second = engine(model_dir), engine(model_dir)
    assert first._model() is second._model()


def test_usage_counts_each_sentence_and_its_characters(model_dir):
    usage = UsageCounter()
    engine(model_dir).synthesize(["하나.", "Two."], "ko", None, threading.Event(), usage=usage)
    assert (usage.requests, usage.characters) == (2, len("하나.") + len("Two."))


def test_a_set_cancel_event_stops_before_the_next_sentence(model_dir):
    cancel = threading.Event()
    spoken = []

    def sentence_done(count: int) -> None:
        spoken.append(count)
        cancel.set()

    with pytest.raises(SynthesisCanceled):
        engine(model_dir).synthesize(["하나.", "둘."], "ko", None, cancel, sentence_done)
    assert spoken == [1]


def test_what_cannot_be_said_is_refused_before_synthesis(model_dir):
    voice = engine(model_dir)
    with pytest.raises(SynthesisError, match=r"no voice 'X9'.*F1, M1") as unknown_voice:
        voice.check(["Hi."], "en", "X9")
    with pytest.raises(SynthesisError, match="does not speak 'zz'") as unknown_language:
        voice.check(["Hi."], "zz", None)
    # The stand-in's indexer has ASCII and Hangul jamo only.
    with pytest.raises(SynthesisError, match=r"cannot say 3 characters.*'日本語'") as unsayable:
        voice.check(["日本語 is not in it: 日本."], "en", None)
    assert not any(error.value.retryable for error in (unknown_voice, unknown_language, unsayable))


def test_pictographs_are_left_unsaid_rather_than_refused(model_dir):
    voice = engine(model_dir)
    voice.check(["좋아요 👍", "✅"], "ko", None)
    result = voice.synthesize(["좋아요 👍", "✅"], "ko", None, threading.Event())
    start, end = result.sentence_spans[1]
    assert round((end - start) * SAMPLE_RATE) == round(PAUSE_SEC * SAMPLE_RATE)


def test_voices_lists_every_preset_for_korean_and_english_without_loading(model_copy):
    voices = engine(model_copy).voices()
    assert {(voice.voice, voice.language, voice.gender) for voice in voices} == {
        ("supertonic#F1", "ko", "female"), ("supertonic#M1", "ko", "male"),
        ("supertonic#F1", "en", "female"), ("supertonic#M1", "en", "male"),
    }  # fmt: skip
    assert {(voice.engine, voice.kind, voice.where, voice.sample_rate) for voice in voices} == {
        ("supertonic", "neural", "local", 44_100)
    }


def test_model_id_follows_the_files_and_the_steps(model_dir, model_copy):
    assert engine(model_dir).model_id == engine(model_copy).model_id
    assert engine(model_dir, steps=8).model_id != engine(model_dir).model_id
    style = model_copy / "voice_styles" / "M1.json"
    style.write_text(style.read_text().replace("0.25", "0.3"))
    rewrite_marker(model_copy)
    assert engine(model_copy).model_id != engine(model_dir).model_id


def rewrite_marker(folder: Path) -> None:
    """As `voices fetch` would after verifying the folder's files as they are now."""
    completion = read_completion(folder)
    write_completion_marker(folder, completion.revision, [ModelFile.of(folder, file.path) for file in completion.files])


def assert_unavailable(voice: SupertonicEngine, *fragments: str) -> None:
    reason = voice.available().reason
    assert reason is not None
    for fragment in (SETTING, FETCH, *fragments):
        assert fragment in reason
    with pytest.raises(SynthesisError) as raised:
        voice.check(["Hi."], "en", None)
    assert not raised.value.retryable and SETTING in str(raised.value)
    assert voice.voices() == []


def test_unset_or_missing_folder_is_unavailable_naming_the_setting_and_the_fetch_command(tmp_path):
    assert_unavailable(engine(None), "not set")
    assert_unavailable(engine(tmp_path / "nowhere"), "does not exist")
    _, reasons = usable_engines(RendererSettings(supertonic_model_dir=None))
    assert SETTING in reasons["supertonic"]


def test_a_missing_file_makes_it_unavailable(model_copy):
    (model_copy / "onnx" / "vocoder.onnx").unlink()
    assert_unavailable(engine(model_copy), "onnx/vocoder.onnx")


def test_a_folder_without_the_completion_marker_is_never_loaded(model_copy):
    (model_copy / COMPLETION_MARKER).unlink()
    assert_unavailable(engine(model_copy), "not a completed download")


def test_a_file_changed_since_it_was_fetched_makes_it_unavailable(model_copy):
    with (model_copy / "onnx" / "text_encoder.onnx").open("ab") as graph:
        graph.write(b"\0")
    assert_unavailable(engine(model_copy), "onnx/text_encoder.onnx", "changed since it was fetched")


def test_a_corrupt_graph_fails_clearly_and_for_good(model_copy):
    graph = model_copy / "onnx" / "vocoder.onnx"
    graph.write_bytes(b"\x07not an onnx model" * (graph.stat().st_size // 18 + 1))
    rewrite_marker(model_copy)
    voice = engine(model_copy)
    assert voice.available().ok
    with pytest.raises(SynthesisError, match=rf"broken: onnx/vocoder.onnx.*{FETCH}") as raised:
        voice.check(["Hi."], "en", None)
    assert not raised.value.retryable and SETTING in str(raised.value)


def test_a_graph_that_is_not_the_expected_one_is_named(model_copy):
    shutil.copyfile(model_copy / "onnx" / "text_encoder.onnx", model_copy / "onnx" / "vocoder.onnx")
    rewrite_marker(model_copy)
    with pytest.raises(SynthesisError, match="not a Supertonic vocoder: it lacks latent, wav_tts"):
        engine(model_copy).check(["Hi."], "en", None)


def test_a_broken_voice_style_is_named(model_copy):
    (model_copy / "voice_styles" / "F1.json").write_text(json.dumps({"style_ttl": {"dims": [1, 2], "data": [1]}}))
    rewrite_marker(model_copy)
    with pytest.raises(SynthesisError, match=r"voice_styles/F1\.json: not a voice style"):
        engine(model_copy).check(["Hi."], "en", None)
