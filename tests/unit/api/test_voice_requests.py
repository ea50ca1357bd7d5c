"""What the voice endpoints decide on their side of the bus: which engine a preview needs, which
voices a language filter keeps, and how a renderer's answer (or its silence) maps to SPEC §2."""

import asyncio

import pytest

from libs.contracts.bus import PreviewAudio, PreviewRequest, VoiceInfo
from libs.contracts.codes import ErrorCode
from services.api.errors import InvalidField, PreviewFailed, PreviewsBusy, PreviewTimedOut
from services.api.settings import Settings
from services.api.voices.preview import engine_of, speak_preview
from services.api.voices.schemas import VoicePreviewBody, of_language

ALIASES = {"narrator": "azure#ko-KR-SunHiNeural", "broken": "nope#x"}


@pytest.mark.parametrize(
    ("voice", "engine"),
    [
        ("espeak#ko", "espeak"),
        ("coqui:vits-ko#spk1", "coqui"),
        ("narrator", "azure"),
        ("en+f3", None),
    ],
)
def test_a_preview_needs_the_engine_its_voice_names(voice, engine):
    assert engine_of(voice, ALIASES) == engine


@pytest.mark.parametrize("voice", ["nope#x", "nope:model", "broken"])
def test_a_voice_naming_an_unknown_engine_is_refused_naming_the_field(voice):
    with pytest.raises(InvalidField) as refused:
        engine_of(voice, ALIASES)
    assert refused.value.status_code == 422
    assert refused.value.detail["errors"][0]["field"] == "voice" and "'nope'" in refused.value.message


def test_the_language_filter_keeps_the_voices_of_its_primary_subtag():
    voices = [
        VoiceInfo(voice=f"v{index}", engine="espeak", language=language, name="", sample_rate=22050)
        for index, language in enumerate(["ko", "ko-KR", "en-US", "kok"])
    ]
    assert [voice.language for voice in of_language(voices, "KO-kr")] == ["ko", "ko-KR"]
    assert of_language(voices, None) == voices
    assert of_language(voices, "ja") == []


class AnsweringDispatcher:
    """Stands in for DispatcherRole.preview: answers with `code`, or never (TimeoutError)."""

    def __init__(self, code: ErrorCode | None) -> None:
        self.code = code

    async def preview(self, request: PreviewRequest, engine: str | None, timeout: float) -> PreviewAudio:
        if self.code is ErrorCode.TIMEOUT:
            raise TimeoutError
        return PreviewAudio(request_id=request.request_id, error_code=self.code, error_message="the renderer's words")


@pytest.mark.parametrize(
    ("code", "refusal", "status"),
    [
        (ErrorCode.TIMEOUT, PreviewTimedOut, 504),
        (ErrorCode.RATE_LIMITED, PreviewsBusy, 429),
        (ErrorCode.VALIDATION_ERROR, InvalidField, 422),
        (ErrorCode.TTS_FAILED, PreviewFailed, 502),
    ],
)
def test_a_renderer_refusal_or_silence_becomes_its_http_error(code, refusal, status):
    body = VoicePreviewBody(voice="espeak#ko", language="ko", text="안녕하세요.")
    with pytest.raises(refusal) as refused:
        asyncio.run(speak_preview(None, AnsweringDispatcher(code), Settings(), body))
    assert refused.value.status_code == status
    assert code is ErrorCode.TIMEOUT or "the renderer's words" in refused.value.message
