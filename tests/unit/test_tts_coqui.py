"""The coqui engine on a tiny random-weight VITS built at test time and loaded the way a real
model is: by path, through coqui's own TTS(model_path=..., config_path=...)."""

import json
import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

pytest.importorskip("TTS.api", reason="the coqui extra is not installed (scripts/install-coqui.sh)")

from services.renderer.tts import coqui, get_engine
from services.renderer.tts.base import SAMPLE_WIDTH, SynthesisCanceled, SynthesisError
from tests.coqui_model import build_tiny_vits

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return build_tiny_vits(tmp_path_factory.mktemp("models") / "tiny-vits")


def engine(model_dir: Path):
    return get_engine("coqui", model_dir=model_dir)


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("language", "sentences"),
    [
        ("ko", ["안녕하세요.", "개인정보 보호 교육을 시작하겠습니다."]),
        ("en", ["Hello.", "This sentence is quite a bit longer."]),
    ],
)
def test_speaks_each_sentence_with_exact_offsets(model_dir, language, sentences):
    coqui_engine = engine(model_dir)
    assert coqui_engine.available().ok
    coqui_engine.check(sentences, language, None)
    result = coqui_engine.synthesize(sentences, language, None, threading.Event())
    assert result.sample_rate == coqui_engine._model().sample_rate  # the model's own rate, not resampled
    spans = result.sentence_spans
    assert len(spans) == 2 and spans[0][0] == 0
    assert all(start < end for start, end in spans) and spans[0][1] == spans[1][0]
    assert spans[-1][1] == pytest.approx(len(result.pcm) / SAMPLE_WIDTH / result.sample_rate, abs=1e-9)


def test_a_slower_rate_speaks_longer_at_the_same_sample_rate(model_dir):
    normal = engine(model_dir).synthesize(["개인정보 보호 교육을 시작하겠습니다."], "ko", None, threading.Event())
    slow = engine(model_dir).synthesize(["개인정보 보호 교육을 시작하겠습니다."], "ko", None, threading.Event(), rate=0.5)
    assert slow.sample_rate == normal.sample_rate
    assert slow.duration_sec == pytest.approx(2 * normal.duration_sec, rel=0.1)


def test_model_is_loaded_once_per_process(model_dir):
    first, second = engine(model_dir), engine(model_dir)
    first.check(["네."], "ko", None)
    assert first._model() is second._model()
    assert sum(1 for key in coqui._models if key.startswith(str(model_dir.resolve()))) == 1


def test_characters_the_model_cannot_say_are_reported_before_synthesis(model_dir):
    with pytest.raises(SynthesisError, match=r"cannot say 3 characters of this script: '漢字~'") as error:
        engine(model_dir).check(["안녕하세요.", "漢字 시험 ~ 끝."], "ko", None)
    assert not error.value.retryable


def test_a_one_voice_model_refuses_a_speaker(model_dir):
    with pytest.raises(SynthesisError, match="no speaker 'Ana'"):
        engine(model_dir).check(["네."], "ko", "Ana")


def test_cancel_is_honoured_between_sentences(model_dir):
    cancel = threading.Event()
    spoken = []

    def cancel_after_first(done: int) -> None:
        spoken.append(done)
        cancel.set()

    with pytest.raises(SynthesisCanceled):
        engine(model_dir).synthesize(["하나.", "둘.", "셋."], "ko", None, cancel, cancel_after_first)
    assert spoken == [1]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda folder: (folder / "config.json").unlink(), "has no config.json"),
        (lambda folder: (folder / "model.pth").unlink(), "has no checkpoint"),
        (lambda folder: (folder / "config.json").write_text("{not json"), "cannot read .*config.json"),
    ],
)
def test_missing_or_unreadable_files_make_it_unavailable(tmp_path, damage, reason):
    folder = build_tiny_vits(tmp_path / "damaged")
    damage(folder)
    availability = engine(folder).available()
    assert not availability.ok and re.search(reason, availability.reason), availability


def test_a_corrupt_checkpoint_fails_for_good_naming_the_folder(tmp_path):
    folder = build_tiny_vits(tmp_path / "corrupt")
    (folder / "model.pth").write_bytes(b"this is not a torch checkpoint")
    with pytest.raises(SynthesisError, match=f"cannot load the coqui model in {folder}") as error:
        engine(folder).check(["네."], "ko", None)
    assert not error.value.retryable


def test_no_model_folder_configured():
    assert engine(None).available().reason.startswith("COQUI_MODEL_DIR is not set")


def test_without_the_extra_it_says_how_to_install_it(model_dir):
    # sys.modules[name] = None is how Python marks a module as not importable.
    result = run_python(f"""
        import sys
        sys.modules["TTS"] = None
        from pathlib import Path
        from services.renderer.tts import get_engine
        print(get_engine("coqui", model_dir=Path({str(model_dir)!r})).available().reason)
    """)
    assert result.returncode == 0, result.stderr
    assert "coqui extra is not installed: run scripts/install-coqui.sh" in result.stdout


def test_loads_and_speaks_without_any_network(model_dir):
    result = run_python(f"""
        import socket, threading
        def refuse(*args, **kwargs):
            raise AssertionError("network access attempted")
        socket.socket.connect = socket.socket.connect_ex = socket.getaddrinfo = socket.create_connection = refuse
        from pathlib import Path
        from services.renderer.tts import get_engine
        engine = get_engine("coqui", model_dir=Path({str(model_dir)!r}))
        engine.check(["안녕하세요."], "ko", None)
        print(engine.synthesize(["안녕하세요."], "ko", None, threading.Event()).duration_sec)
    """)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.split()[-1]) > 0


def test_out_of_memory_is_a_tts_failure_naming_the_cause(model_dir):
    # Loaded and warmed first; then the address space is capped just above what is in use and a
    # long sentence asks the text encoder for far more.
    result = run_python(f"""
        import resource, threading
        from pathlib import Path
        from services.renderer.tts import get_engine
        from services.renderer.tts.base import SynthesisError
        engine = get_engine("coqui", model_dir=Path({str(model_dir)!r}))
        engine.synthesize(["안녕하세요."], "ko", None, threading.Event())
        in_use = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (in_use + (200 << 20), resource.RLIM_INFINITY))
        try:
            engine.synthesize(["가나다라 " * 1000], "ko", None, threading.Event())
        except SynthesisError as error:
            print("retryable" if error.retryable else "permanent", error)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("permanent out of memory synthesizing with the coqui model"), result.stdout


def test_config_languages_of_a_single_language_model_are_not_a_restriction(model_dir):
    assert json.loads((model_dir / "config.json").read_text())["languages"] == ["en"]
    assert engine(model_dir).languages is None
