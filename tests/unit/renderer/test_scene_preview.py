"""Scene previews in the renderer: the one-scene script's MP4 encoded as a render's and answered,
nothing stored; a failure answered with its render error code; the lane refuses one in kind."""

import asyncio
import io
import threading

import av
import msgspec
import pytest

from libs.contracts.bus import OutputSpec, PreviewAnswer, ScenePreviewRequest, ScenePreviewVideo
from libs.contracts.codes import ErrorCode
from libs.contracts.script import Slide
from libs.storage import store_of
from services.renderer import preview as preview_module
from services.renderer.preview import PreviewLane
from services.renderer.scene_preview import show_scene
from services.renderer.settings import RendererSettings
from tests.unit.renderer.conftest import make_script


@pytest.fixture
def settings(tmp_path) -> RendererSettings:
    return RendererSettings(asset_dir=tmp_path / "assets", tts_cache_dir=tmp_path / "cache")


def request(script=None, request_id: str = "r1") -> ScenePreviewRequest:
    return ScenePreviewRequest(
        request_id=request_id,
        video_id="video-1",
        script=script or make_script("미리 보는 장면입니다. 두 문장입니다."),
        output=OutputSpec(width=360, height=640, storage_key=""),
    )


def test_a_scene_preview_is_its_mp4_in_the_frame_asked_and_stores_nothing(settings):
    answer = show_scene(request(), settings, store_of(settings), threading.Event())
    assert answer.error_code is None and answer.voice_used and answer.tts_usage
    with av.open(io.BytesIO(answer.video)) as container:
        (video,) = container.streams.video
        (audio,) = container.streams.audio
        assert (video.width, video.height) == (360, 640)
        assert audio.duration is not None and audio.time_base is not None
        assert float(audio.duration * audio.time_base) > 1
    assert not settings.asset_dir.exists() or not any(settings.asset_dir.iterdir())


def test_a_scene_whose_picture_is_gone_is_answered_render_failed(settings):
    script = make_script("사진이 없는 장면입니다.")
    script.scenes[0].slide = Slide(image="0" * 64)
    answer = show_scene(request(script), settings, store_of(settings), threading.Event())
    assert answer.video == b"" and answer.error_code == ErrorCode.RENDER_FAILED and "missing" in (answer.error_message or "")


def test_a_full_lane_refuses_a_scene_preview_with_a_video_answer(settings, monkeypatch):
    release = threading.Event()

    def slow_scene(asked: ScenePreviewRequest, *_) -> ScenePreviewVideo:
        release.wait(5)
        return ScenePreviewVideo(request_id=asked.request_id, video=b"mp4")

    monkeypatch.setattr(preview_module, "show_scene", slow_scene)
    answers: list[PreviewAnswer] = []

    async def scenario() -> None:
        lane = PreviewLane("w0", settings, store_of(settings), answers.append, threads=1)
        lane.take(request(request_id="first"))
        lane.take(request(request_id="second"))
        release.set()
        while len(answers) < 2:  # noqa: ASYNC110 - the lane's thread appends the answers
            await asyncio.sleep(0.01)
        lane.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
    refused, made = answers
    assert isinstance(refused, ScenePreviewVideo) and refused.request_id == "second"
    assert refused.error_code == ErrorCode.RATE_LIMITED
    assert msgspec.structs.asdict(made) == msgspec.structs.asdict(ScenePreviewVideo(request_id="first", video=b"mp4"))
