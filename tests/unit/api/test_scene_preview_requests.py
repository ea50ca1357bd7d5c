"""What a scene preview decides on the API's side of the bus, on a real database: the one-scene
script, lexicon, theme and frame it sends (as a render job of the script would get them), and how the
renderer's answer (or its silence) maps to SPEC §2."""

import pytest

from libs.contracts.bus import ScenePreviewRequest, ScenePreviewVideo
from libs.contracts.codes import ErrorCode
from libs.contracts.script import LexiconEntry, Scene, Script, Slide
from libs.contracts.theme import Theme
from services.api.errors import PreviewsBusy, PreviewTimedOut, ScenePreviewFailed
from services.api.lexicon.store import replace_lexicon
from services.api.scripts.preview import render_scene_preview
from services.api.scripts.store import ScriptStore
from services.api.settings import Settings
from services.api.themes.store import replace_theme

pytestmark = pytest.mark.anyio


class AnsweringDispatcher:
    """Stands in for DispatcherRole.preview_scene: keeps what it was asked, answers with `code`
    (a video when None), or never (TimeoutError)."""

    def __init__(self, code: ErrorCode | None = None) -> None:
        self.code = code
        self.asked: list[tuple[ScenePreviewRequest, str | None]] = []

    async def preview_scene(self, request: ScenePreviewRequest, engine: str | None, timeout: float) -> ScenePreviewVideo:
        self.asked.append((request, engine))
        if self.code is ErrorCode.TIMEOUT:
            raise TimeoutError
        video = b"" if self.code else b"mp4"
        return ScenePreviewVideo(request_id=request.request_id, video=video, error_code=self.code, error_message="its words")


async def draft(db, **fields) -> None:
    scenes = [Scene(narration=f"장면 {index}에서 API를 씁니다.", slide=Slide(title=f"{index}")) for index in range(3)]
    await ScriptStore(db).put("video-1", "script-1", Script(title="t", scenes=scenes, **fields), "tests")


async def test_the_request_is_the_scene_alone_with_the_lexicon_and_frame_a_render_would_get(db):
    await replace_lexicon(db, "video-1", [LexiconEntry(term="API", say="video"), LexiconEntry(term="SDK", say="sdk")], "t")
    await draft(db, format="9:16", voice="espeak#ko", lexicon=[LexiconEntry(term="API", say="에이피아이")])
    dispatcher = AnsweringDispatcher()
    video = await render_scene_preview(db, dispatcher, Settings(), "video-1", "script-1", 1)
    assert video.video == b"mp4"
    ((request, engine),) = dispatcher.asked
    assert engine == "espeak" and request.video_id == "video-1"
    assert [scene.narration for scene in request.script.scenes] == ["장면 1에서 API를 씁니다."]
    assert (request.script.format, request.script.voice) == ("9:16", "espeak#ko")
    assert {entry.term: entry.say for entry in request.lexicon} == {"API": "에이피아이", "SDK": "sdk"}
    assert (request.output.width, request.output.height, request.output.storage_key) == (1080, 1920, "")


async def test_the_request_carries_the_scripts_theme_as_a_job_would_keep_it(db):
    await replace_theme(db, "acme", Theme(background="#102030", accent="#ff8800"), "tests")
    await draft(db, theme="acme")
    dispatcher = AnsweringDispatcher()
    await render_scene_preview(db, dispatcher, Settings(), "video-1", "script-1", 0)
    ((request, _),) = dispatcher.asked
    assert request.theme is not None and request.theme.theme == Theme(background="#102030", accent="#ff8800")
    assert request.theme.font_key is None and request.theme.logo_key is None


@pytest.mark.parametrize(
    ("code", "refusal", "status"),
    [
        (ErrorCode.TIMEOUT, PreviewTimedOut, 504),
        (ErrorCode.RATE_LIMITED, PreviewsBusy, 429),
        (ErrorCode.TTS_FAILED, ScenePreviewFailed, 502),
        (ErrorCode.RENDER_FAILED, ScenePreviewFailed, 502),
    ],
)
async def test_a_renderer_refusal_or_silence_becomes_its_http_error(db, code, refusal, status):
    await draft(db)
    with pytest.raises(refusal) as refused:
        await render_scene_preview(db, AnsweringDispatcher(code), Settings(), "video-1", "script-1", 0)
    assert refused.value.status_code == status
    assert code in (ErrorCode.TIMEOUT, ErrorCode.RATE_LIMITED) or refused.value.error_code == code
    assert code is ErrorCode.TIMEOUT or "its words" in refused.value.message
