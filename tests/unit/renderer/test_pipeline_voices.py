"""What a job's voice settings do to a real render: the lexicon, the rate, the fallback voice,
`voice_used` and the TTS usage counted for /metrics (real espeak-ng, real MP4)."""

import re
import threading

import av
import msgspec
import pytest

from libs.contracts.codes import ErrorCode, Step
from libs.contracts.script import LexiconEntry
from libs.storage.local import LocalFolderStore
from services.renderer.pipeline import RenderFailure, render_job
from services.renderer.settings import RendererSettings
from services.renderer.tts.base import SynthesisError
from services.renderer.tts.espeak import EspeakEngine

from .conftest import make_job, make_script, stream_seconds


def render(tmp_path, job, **settings):
    usage = []
    reports = []
    assets = render_job(
        job, settings=RendererSettings(asset_dir=tmp_path, **settings), storage=LocalFolderStore(tmp_path),
        report=lambda step, percent, message: reports.append((step, message)), cancel=threading.Event(), tts_usage=usage,
    )  # fmt: skip
    return assets, usage, reports


def spoken_by_espeak(monkeypatch) -> list[str]:
    spoken: list[str] = []
    speak = EspeakEngine.synthesize

    def recording(self, sentences, *args, **options):
        spoken.extend(sentences)
        return speak(self, sentences, *args, **options)

    monkeypatch.setattr(EspeakEngine, "synthesize", recording)
    return spoken


def test_the_lexicon_changes_what_is_spoken_and_never_the_captions(tmp_path, monkeypatch):
    spoken = spoken_by_espeak(monkeypatch)
    job = msgspec.structs.replace(
        make_job(make_script("API를 호출합니다.", "VPN으로 접속하세요.")),
        lexicon=[LexiconEntry(term="API", say="에이피아이"), LexiconEntry(term="VPN", say="브이피엔")],
    )
    render(tmp_path, job, tts_cache_max_mb=0)

    assert spoken == ["에이피아이를 호출합니다.", "브이피엔으로 접속하세요."]
    published = tmp_path / "video-1" / "job-1"
    for captions in ("subtitles.srt", "subtitles.vtt", "words.json"):
        # Without WebVTT's inline word timestamps, and words.json's words joined again.
        text = re.sub(r"<[\d:.]+>", "", (published / captions).read_text(encoding="utf-8"))
        if captions == "words.json":
            text = " ".join(word["text"] for word in msgspec.json.decode(text))
        assert "API를 호출합니다." in text and "VPN으로 접속하세요." in text
        assert "에이피아이" not in text and "브이피엔" not in text


def test_the_cache_tells_a_lexicon_change_apart(tmp_path, monkeypatch):
    spoken = spoken_by_espeak(monkeypatch)
    job = make_job(make_script("API를 호출합니다."))
    render(tmp_path / "first", job, tts_cache_dir=tmp_path / "cache")
    render(
        tmp_path / "second",
        msgspec.structs.replace(job, lexicon=[LexiconEntry(term="API", say="에이피아이")]),
        tts_cache_dir=tmp_path / "cache",
    )
    assert spoken == ["API를 호출합니다.", "에이피아이를 호출합니다."]


def test_a_faster_rate_makes_a_shorter_video(tmp_path):
    narration = "개인정보 보호 교육을 시작하겠습니다. 오늘은 세 가지를 배웁니다."
    normal, _, _ = render(tmp_path / "normal", make_job(make_script(narration)))
    script = make_script(narration)
    script.rate = 2.0
    fast, _, _ = render(tmp_path / "fast", make_job(script))
    script.scenes[0].rate = 0.5  # 2.0 × 0.5: the voice's own pace again
    again, _, _ = render(tmp_path / "again", make_job(script))
    assert fast.duration_sec < 0.75 * normal.duration_sec
    assert again.duration_sec == pytest.approx(normal.duration_sec, rel=0.05)


def test_the_voice_that_spoke_is_reported_with_the_engine_usage(tmp_path):
    assets, usage, _ = render(
        tmp_path, make_job(make_script("안녕하세요. 반갑습니다.", "두 번째 장면입니다.")), tts_cache_max_mb=0
    )
    assert assets.voice_used == "espeak"
    assert [(entry.engine, entry.requests, entry.cache_hits) for entry in usage] == [("espeak", 3, 0)]
    assert usage[0].characters == len("안녕하세요.반갑습니다.두 번째 장면입니다.")


def test_a_script_fallback_voices_the_whole_video_and_says_so(tmp_path, monkeypatch):
    speak = EspeakEngine.synthesize
    voices_heard = []

    def broken_korean_voice(self, sentences, language, voice, *args, **options):
        voices_heard.append(voice)
        if voice is None:
            raise SynthesisError("provider answered 503")
        return speak(self, sentences, language, voice, *args, **options)

    monkeypatch.setattr(EspeakEngine, "synthesize", broken_korean_voice)
    script = make_script("첫 장면입니다.", "두 번째 장면입니다.")
    script.voice_fallback = "espeak#en"
    assets, usage, reports = render(tmp_path, make_job(script), tts_cache_max_mb=0)

    assert assets.voice_used == "espeak#en"
    assert set(voices_heard[1:]) == {"en"}, "after the first voice failed, only the fallback spoke"
    assert [entry.engine for entry in usage] == ["espeak", "espeak"]
    assert any("voicing the whole video with espeak#en" in message for step, message in reports if step is Step.GENERATE_TTS)
    with av.open(str(tmp_path / "video-1" / "job-1" / "video.mp4")) as container:
        assert stream_seconds(container.streams.audio[0]) == pytest.approx(assets.duration_sec, abs=0.05)


def test_without_a_fallback_the_job_fails_naming_the_voice_and_the_answer(tmp_path, monkeypatch):
    def down(self, *args, **options):
        raise SynthesisError("provider answered 503", retryable=False)

    monkeypatch.setattr(EspeakEngine, "synthesize", down)
    usage = []
    with pytest.raises(RenderFailure) as failure:
        render_job(
            make_job(make_script("안녕하세요.")),
            settings=RendererSettings(asset_dir=tmp_path, tts_cache_max_mb=0),
            storage=LocalFolderStore(tmp_path),
            report=lambda *report: None,
            cancel=threading.Event(),
            tts_usage=usage,
        )
    assert failure.value.error_code is ErrorCode.TTS_FAILED
    assert "provider answered 503" in str(failure.value)
    assert [entry.engine for entry in usage] == ["espeak"], "a failed job still reports what it asked of the engine"
    assert not (tmp_path / "video-1").exists()
