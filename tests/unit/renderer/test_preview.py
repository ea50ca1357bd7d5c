"""Voice previews in the renderer: spoken as a render's sentences are (lexicon, engine selection),
answered as WAV, refused when the lane is full; and the voices a worker offers the catalog."""

import asyncio
import io
import threading
import wave

import pytest

from libs.contracts.bus import PreviewAudio, PreviewRequest, VoiceInfo
from libs.contracts.codes import ErrorCode
from libs.contracts.script import LexiconEntry
from libs.storage import store_of
from services.renderer import preview as preview_module, voice_catalog
from services.renderer.preview import PreviewLane, speak_preview
from services.renderer.settings import RendererSettings
from services.renderer.tts.espeak import EspeakEngine
from services.renderer.tts.espeak_voices import _bcp47_case


@pytest.fixture
def settings(tmp_path) -> RendererSettings:
    return RendererSettings(asset_dir=tmp_path / "assets", tts_cache_dir=tmp_path / "cache")


def request(text: str = "안녕하세요. 미리 듣기입니다.", voice: str = "espeak#ko", **fields) -> PreviewRequest:
    return PreviewRequest(request_id="r1", voice=voice, language=fields.pop("language", "ko-KR"), text=text, **fields)


def seconds(audio: PreviewAudio) -> float:
    with wave.open(io.BytesIO(audio.audio)) as wav:
        return wav.getnframes() / wav.getframerate()


def test_a_preview_is_wav_at_the_voice_rate_with_its_usage(settings):
    audio = speak_preview(request(), settings, threading.Event())
    assert audio.error_code is None and audio.content_type == "audio/wav" and audio.voice_used == "espeak#ko"
    with wave.open(io.BytesIO(audio.audio)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.getnframes() > 22050 // 2
    assert [(usage.engine, usage.requests) for usage in audio.tts_usage] == [("espeak", 2)]


def test_a_preview_speaks_the_lexicon_it_was_sent(settings):
    say = "something much longer to say than four letters"
    plain = speak_preview(request("SLRL.", "espeak#en-US", language="en"), settings, threading.Event())
    spoken = speak_preview(
        request("SLRL.", "espeak#en-US", language="en", lexicon=[LexiconEntry(term="SLRL", say=say)]), settings, threading.Event()
    )
    spelled_out = speak_preview(request(f"{say}.", "espeak#en-US", language="en"), settings, threading.Event())
    assert seconds(spoken) == seconds(spelled_out) > 2 * seconds(plain)


@pytest.mark.parametrize(
    ("text", "voice", "code", "says"),
    [
        ("   ", "espeak#ko", ErrorCode.VALIDATION_ERROR, "text"),
        ("안녕하세요.", "espeak:model#ko", ErrorCode.TTS_FAILED, "espeak takes no model"),
    ],
)
def test_a_preview_that_cannot_be_spoken_says_why(settings, text, voice, code, says):
    audio = speak_preview(request(text, voice), settings, threading.Event())
    assert audio.audio == b"" and audio.error_code == code and says in audio.error_message


def test_a_full_lane_refuses_at_once_and_takes_again_when_one_ends(settings, monkeypatch):
    release = threading.Event()

    def slow_preview(asked: PreviewRequest, *_) -> PreviewAudio:
        release.wait(5)
        return PreviewAudio(request_id=asked.request_id, audio=b"RIFF")

    monkeypatch.setattr(preview_module, "speak_preview", slow_preview)
    answers: list[PreviewAudio] = []

    async def scenario() -> None:
        lane = PreviewLane("w0", settings, store_of(settings), answers.append, threads=1)
        lane.take(PreviewRequest(request_id="first", voice="espeak#ko", language="ko", text="가"))
        lane.take(PreviewRequest(request_id="second", voice="espeak#ko", language="ko", text="가"))
        assert [(answer.request_id, answer.error_code) for answer in answers] == [("second", ErrorCode.RATE_LIMITED)]
        release.set()
        # The lane's thread appends the answers: nothing to await.
        while len(answers) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        lane.take(PreviewRequest(request_id="third", voice="espeak#ko", language="ko", text="가"))
        while len(answers) < 3:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        lane.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
    assert [(answer.request_id, answer.error_code) for answer in answers[1:]] == [("first", None), ("third", None)]


def test_espeak_lists_its_voices_as_catalog_entries_it_can_speak():
    voices = {voice.voice: voice for voice in EspeakEngine().voices()}
    assert len(voices) > 100
    korean = voices["espeak#ko"]
    assert (korean.engine, korean.language, korean.name, korean.kind, korean.where, korean.sample_rate) == (
        "espeak",
        "ko",
        "Korean",
        "formant",
        "local",
        22050,
    )
    assert voices["espeak#en-US"].language == "en-US"
    # Every spec selects its own voice (an unknown one would fall back to the language's default).
    american = EspeakEngine().synthesize(["Tomato."], "en", "en-US", threading.Event()).pcm
    british = EspeakEngine().synthesize(["Tomato."], "en", "en", threading.Event()).pcm
    assert american != british


@pytest.mark.parametrize(
    ("espeak", "bcp47"),
    [
        ("ko", "ko"),
        ("en-us", "en-US"),
        ("cmn-latn-pinyin", "cmn-Latn-pinyin"),
        ("en-gb-x-gbclan", "en-GB-x-gbclan"),
        ("es-419", "es-419"),
        ("", ""),
    ],
)
def test_espeak_language_tags_get_bcp47_case(espeak, bcp47):
    assert _bcp47_case(espeak) == bcp47


def test_an_engine_that_cannot_list_its_voices_costs_no_other_engine_its_own(settings, monkeypatch, caplog):
    listed = VoiceInfo(
        voice="google#ko-KR-Neural2-A",
        engine="google",
        language="ko-KR",
        name="ko-KR-Neural2-A",
        where="cloud",
        sample_rate=24000,
    )

    class Listing:
        def voices(self) -> list[VoiceInfo]:
            return [listed]

    class Broken:
        def voices(self) -> list[VoiceInfo]:
            raise RuntimeError("no list today")

    monkeypatch.setattr(voice_catalog, "get_engine", lambda name, _: Broken() if name == "azure" else Listing())
    assert voice_catalog.gather_voices(["azure", "google"], settings) == [listed]
    assert "TTS engine azure could not list its voices" in caplog.text
