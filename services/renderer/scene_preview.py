"""Scene previews (SPEC §8.3 `POST …/scripts/{script_id}/preview`): one scene of a script, cut
by the API into a script of its own, rendered as its video would be (voice, lexicon, theme,
format, music, captions, loudness) but answered as MP4 bytes instead of published. They run on the
preview lane (preview.py), beside whatever the worker renders.
"""

import threading

from libs.contracts.bus import EngineUsage, Render, ScenePreviewRequest, ScenePreviewVideo
from libs.contracts.codes import ErrorCode
from libs.storage import AssetStore
from services.renderer.pipeline import RenderCanceled, RenderFailure, render_video_only
from services.renderer.settings import RendererSettings


def show_scene(
    request: ScenePreviewRequest, settings: RendererSettings, storage: AssetStore, cancel: threading.Event
) -> ScenePreviewVideo:
    """The scene's MP4, or the reason there is none."""
    # The pipeline's unit of work is a job: the preview is the job of its one-scene script.
    job = Render(
        job_id=f"preview-{request.request_id}",
        video_id=request.video_id,
        attempt=1,
        script=request.script,
        output=request.output,
        lexicon=request.lexicon,
        theme=request.theme,
        deadline_sec=request.deadline_sec,
    )
    tts_usage: list[EngineUsage] = []
    try:
        video, voice_used = render_video_only(job, settings=settings, storage=storage, cancel=cancel, tts_usage=tts_usage)
    except RenderCanceled:
        return ScenePreviewVideo(
            request_id=request.request_id,
            error_code=ErrorCode.RENDER_FAILED,
            error_message="the renderer worker is shutting down",
            tts_usage=tts_usage,
        )
    except RenderFailure as failure:
        return ScenePreviewVideo(
            request_id=request.request_id, error_code=failure.error_code, error_message=str(failure), tts_usage=tts_usage
        )
    return ScenePreviewVideo(request_id=request.request_id, video=video, voice_used=voice_used, tts_usage=tts_usage)
