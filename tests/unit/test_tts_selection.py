"""Voice specs, aliases and fallback chains, and a render that falls back through the real pipeline."""

import importlib.util
import re
import threading

import pytest

from libs.contracts.codes import ErrorCode, Step
from libs.storage.local import LocalFolderStore
from services.renderer.pipeline import RenderFailure, render_job
from services.renderer.settings import RendererSettings
from services.renderer.tts.base import SynthesisError
from services.renderer.tts.coqui import INSTALL_HINT
from services.renderer.tts.selection import VoiceSpec, parse_spec, prepare, voice_chain
from tests.unit.renderer.conftest import make_job, make_script


def settings(tmp_path, **values) -> RendererSettings:
    values.setdefault("coqui_model_dir", None)
    return RendererSettings(asset_dir=tmp_path / "assets", tts_cache_dir=tmp_path / "cache", **values)


def unavailable_because(reason: str) -> str:
    """Why coqui says it is unavailable: a missing extra comes before every other reason, so
    these tests hold with and without it (SLIDEREEL_SKIP_COQUI=1 ./scripts/test)."""
    return INSTALL_HINT if importlib.util.find_spec("TTS") is None else reason


def texts(chain: list[VoiceSpec]) -> list[str]:
    return [spec.text for spec in chain]


def test_specs_name_engine_model_and_voice(tmp_path):
    config = settings(tmp_path, tts_voice_aliases="narrator=coqui:vits-ko#spk1")
    assert parse_spec("coqui:xtts#Ana Florence", config, from_script=True) == VoiceSpec(
        "coqui", "xtts", "Ana Florence", "coqui:xtts#Ana Florence", True
    )
    assert parse_spec("espeak#en+f3", config, from_script=True) == VoiceSpec("espeak", None, "en+f3", "espeak#en+f3", True)
    # A bare voice belongs to the default engine, as voices did before engines could be chosen.
    assert parse_spec("en+f3", config, from_script=True) == VoiceSpec("espeak", None, "en+f3", "en+f3", True)
    # An alias is the operator's: it may name any model folder.
    assert parse_spec("narrator", config, from_script=True) == VoiceSpec("coqui", "vits-ko", "spk1", "coqui:vits-ko#spk1", False)


def test_fallback_chain_continues_after_the_chosen_engine(tmp_path):
    config = settings(tmp_path, tts_engine="coqui", tts_fallback="ko:coqui>espeak, *:espeak")
    assert texts(voice_chain(config, "ko", None)) == ["coqui", "espeak"]
    assert texts(voice_chain(config, "ko", "coqui:other")) == ["coqui:other", "espeak"]
    assert texts(voice_chain(config, "en", None)) == ["coqui", "espeak"]
    assert texts(voice_chain(settings(tmp_path, tts_engine="coqui"), "ko", None)) == ["coqui"]
    assert texts(voice_chain(settings(tmp_path, tts_fallback="ko:coqui>espeak"), "ko", None)) == ["espeak"]


@pytest.mark.parametrize(
    ("values", "match"),
    [({"tts_fallback": "ko=coqui"}, "TTS_FALLBACK: 'ko=coqui'"), ({"tts_voice_aliases": "narrator"}, "TTS_VOICE_ALIASES")],
)
def test_malformed_settings_are_named(tmp_path, values, match):
    with pytest.raises(SynthesisError, match=match) as error:
        voice_chain(settings(tmp_path, **values), "ko", "narrator")
    assert not error.value.retryable


def test_a_script_may_name_model_folders_only_under_the_model_root(tmp_path):
    (tmp_path / "models").mkdir()
    spec = parse_spec("coqui:../../etc", settings(tmp_path), from_script=True)
    with pytest.raises(SynthesisError, match="COQUI_MODEL_ROOT \\(not set\\)"):
        prepare(spec, settings(tmp_path), ["네."], "ko")
    with pytest.raises(SynthesisError, match="outside COQUI_MODEL_ROOT"):
        prepare(spec, settings(tmp_path, coqui_model_root=tmp_path / "models"), ["네."], "ko")
    inside = parse_spec("coqui:vits-ko", settings(tmp_path), from_script=True)
    with pytest.raises(SynthesisError, match=re.escape(unavailable_because("models/vits-ko does not exist"))):
        prepare(inside, settings(tmp_path, coqui_model_root=tmp_path / "models"), ["네."], "ko")


def test_unknown_engine_and_espeak_model_fail_for_good(tmp_path):
    with pytest.raises(SynthesisError, match="unknown TTS engine 'nope'") as error:
        prepare(parse_spec("nope", settings(tmp_path, tts_engine="nope"), from_script=False), settings(tmp_path), ["네."], "ko")
    assert not error.value.retryable
    with pytest.raises(SynthesisError, match="espeak takes no model"):
        prepare(parse_spec("espeak:model", settings(tmp_path), from_script=True), settings(tmp_path), ["네."], "ko")


class Reports:
    def __init__(self) -> None:
        self.messages: list[tuple[Step, str]] = []

    def __call__(self, step: Step, progress: int, message: str) -> None:
        self.messages.append((step, message))


def render(config: RendererSettings, script) -> Reports:
    reports = Reports()
    render_job(
        make_job(script), settings=config, storage=LocalFolderStore(config.asset_dir), report=reports, cancel=threading.Event()
    )
    return reports


def test_unavailable_coqui_falls_back_to_espeak_and_says_so(tmp_path):
    config = settings(tmp_path, tts_engine="coqui", tts_fallback="ko:coqui>espeak")
    reports = render(config, make_script("안녕하세요. 반갑습니다.", "두 번째 장면입니다."))
    tts_messages = [message for step, message in reports.messages if step is Step.GENERATE_TTS]
    assert any(
        "coqui cannot narrate this script" in message and "voicing the whole video with espeak" in message
        for message in tts_messages
    )
    summary = tts_messages[-1]
    assert summary.startswith("Narrated 3 sentences with espeak (TTS cache: 0 hits, 3 misses)"), summary
    assert f"fell back from coqui: coqui is unavailable: {unavailable_because('COQUI_MODEL_DIR is not set')}" in summary


def test_rerender_speaks_only_what_changed(tmp_path):
    config = settings(tmp_path)
    render(config, make_script("안녕하세요. 반갑습니다.", "두 번째 장면입니다."))
    summary = render(config, make_script("안녕하세요. 반갑습니다.", "바뀐 장면입니다.")).messages
    assert "Narrated 3 sentences with espeak (TTS cache: 2 hits, 1 misses)" in [message for _, message in summary]


def test_without_a_fallback_unavailable_coqui_fails_at_once(tmp_path):
    with pytest.raises(RenderFailure) as failure:
        render(settings(tmp_path, tts_engine="coqui"), make_script("안녕하세요."))
    assert (failure.value.error_code, failure.value.retryable) == (ErrorCode.TTS_FAILED, False)
    assert unavailable_because("COQUI_MODEL_DIR is not set") in str(failure.value)
