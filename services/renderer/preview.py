"""Voice previews (SPEC §8.1 `POST /api/v2/voices/preview`): a few sentences spoken on a lane of
the worker's own, beside whatever it renders, so an editor trying a voice never waits for a video.
Scene previews (scene_preview.py) take the same lane, for the same reason.

The lane is a small pool of threads. A preview that finds every one of them busy is refused at
once, not queued: the editor is waiting, and the API gives up after its timeout anyway. espeak-ng
is locked per sentence (tts/espeak.py), so a preview waits at most for one sentence of a render.
"""

import asyncio
import io
import logging
import threading
import wave
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import overload

from libs.contracts.bus import (
    EngineUsage,
    PreviewAnswer,
    PreviewAsk,
    PreviewAudio,
    PreviewRequest,
    ScenePreviewRequest,
    ScenePreviewVideo,
)
from libs.contracts.codes import ErrorCode
from libs.lexicon import pronouncer
from libs.storage import AssetStore
from services.renderer.scene_preview import show_scene
from services.renderer.settings import RendererSettings
from services.renderer.text import split_sentences
from services.renderer.tts.base import SAMPLE_WIDTH, SynthesisCanceled, SynthesisError, SynthesisResult, UsageCounter
from services.renderer.tts.selection import parse_spec, prepare

log = logging.getLogger(__name__)

PREVIEW_THREADS = 2
"""Previews one worker makes at once: enough for two editors at the same moment, few enough
that previews never take a render's CPU away for long."""


def speak_preview(request: PreviewRequest, settings: RendererSettings, cancel: threading.Event) -> PreviewAudio:
    """The preview's audio as WAV at the voice's own rate, or the reason there is none."""
    pronounce = pronouncer(request.lexicon)
    sentences = [pronounce(sentence) for sentence in split_sentences(request.text)]
    if not sentences:
        return _refusal(request, ErrorCode.VALIDATION_ERROR, "text: there is nothing to speak in it")
    language = request.language.split("-", 1)[0].lower()
    try:
        # From an editor, as a script's voice is: the same limits on the model folders it may name.
        spec = parse_spec(request.voice, settings, from_script=True)
    except SynthesisError as error:
        return _refusal(request, ErrorCode.TTS_FAILED, str(error))
    usage = UsageCounter()
    try:
        voice = prepare(spec, settings, sentences, language)
        result = voice.synthesize(sentences, language, request.voice, cancel, usage=usage)
    except SynthesisCanceled:
        return _refusal(request, ErrorCode.TTS_FAILED, "the renderer worker is shutting down")
    except SynthesisError as error:
        return _refusal(request, ErrorCode.TTS_FAILED, str(error), usage.as_contract(spec.engine))
    return PreviewAudio(
        request_id=request.request_id,
        audio=wav_bytes(result),
        content_type="audio/wav",
        voice_used=spec.canonical,
        tts_usage=[usage.as_contract(spec.engine)],
    )


def wav_bytes(result: SynthesisResult) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(result.sample_rate)
        wav.writeframes(result.pcm)
    return buffer.getvalue()


@overload
def _refusal(request: PreviewRequest, code: ErrorCode, message: str, usage: EngineUsage | None = None) -> PreviewAudio: ...
@overload
def _refusal(
    request: ScenePreviewRequest, code: ErrorCode, message: str, usage: EngineUsage | None = None
) -> ScenePreviewVideo: ...
def _refusal(request: PreviewAsk, code: ErrorCode, message: str, usage: EngineUsage | None = None) -> PreviewAnswer:
    """The answer of `request`'s kind that says why there is nothing to hear or see."""
    answer = ScenePreviewVideo if isinstance(request, ScenePreviewRequest) else PreviewAudio
    return answer(
        request_id=request.request_id, error_code=code, error_message=message, tts_usage=[] if usage is None else [usage]
    )


class PreviewLane:
    """Makes previews on threads of their own; `answer` gets each result on the event loop's
    thread, since the worker's sockets live there. Use from that thread only."""

    def __init__(
        self,
        worker_id: str,
        settings: RendererSettings,
        storage: AssetStore,
        answer: Callable[[PreviewAnswer], None],
        threads: int = PREVIEW_THREADS,
    ) -> None:
        self._worker_id = worker_id
        self._settings = settings
        self._storage = storage
        """Where a scene preview's pictures and music come from."""
        self._answer = answer
        self._threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="preview")
        self._running = 0
        self._closing = threading.Event()

    def take(self, request: PreviewAsk) -> None:
        if self._running >= self._threads:
            log.warning("refused preview %s: all %d preview threads are busy", request.request_id, self._threads)
            self._answer(
                _refusal(
                    request,
                    ErrorCode.RATE_LIMITED,
                    f"renderer worker {self._worker_id} is already making {self._threads} previews",
                )
            )
            return
        self._running += 1
        loop = asyncio.get_running_loop()
        future = (
            self._pool.submit(show_scene, request, self._settings, self._storage, self._closing)
            if isinstance(request, ScenePreviewRequest)
            else self._pool.submit(speak_preview, request, self._settings, self._closing)
        )
        future.add_done_callback(lambda done: self._hand_back(loop, request, done))

    def _hand_back(self, loop: asyncio.AbstractEventLoop, request: PreviewAsk, done: Future) -> None:
        """On the preview's thread: the answer goes to the loop, unless the worker is closing
        (its loop may be gone by now)."""
        if not self._closing.is_set():
            loop.call_soon_threadsafe(self._finished, request, done)

    def _finished(self, request: PreviewAsk, done: Future) -> None:
        self._running -= 1
        try:
            answer = done.result()
        except Exception as error:  # a bug, not the engine: still an answer, so the editor is not left waiting
            log.exception("preview %s crashed", request.request_id)
            code = ErrorCode.RENDER_FAILED if isinstance(request, ScenePreviewRequest) else ErrorCode.TTS_FAILED
            answer = _refusal(request, code, f"{type(error).__name__}: {error}")
        self._answer(answer)

    def close(self) -> None:
        """Stops: previews in progress end at their next sentence (or checkpoint), none is answered."""
        self._closing.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
