"""Speaking a voice preview: the request checked and completed here, spoken by a renderer worker
(RenderBroker.preview), its answer mapped to SPEC §2's errors."""

import uuid

from libs.contracts.bus import PreviewAudio, PreviewRequest
from libs.contracts.codes import ErrorCode
from libs.contracts.voices import ENGINE_NAMES, parse_aliases, required_engine
from services.api.db.engine import Database
from services.api.dispatch.role import DispatcherRole
from services.api.errors import InvalidField, PreviewFailed, PreviewsBusy, PreviewTimedOut
from services.api.lexicon.store import video_lexicon
from services.api.settings import Settings
from services.api.voices.schemas import VoicePreviewBody

PREVIEW_TIMEOUT_SEC = 10.0
"""A preview is a few sentences spoken beside any render; one that takes longer has gone wrong."""


async def speak_preview(db: Database, dispatcher: DispatcherRole, settings: Settings, body: VoicePreviewBody) -> PreviewAudio:
    engine = engine_of(body.voice, parse_aliases(settings.tts_voice_aliases))
    lexicon = await video_lexicon(db, body.video_id) if body.video_id else []
    request = PreviewRequest(
        request_id=uuid.uuid4().hex, voice=body.voice, language=body.language, text=body.text, lexicon=lexicon
    )
    try:
        audio = await dispatcher.preview(request, engine, PREVIEW_TIMEOUT_SEC)
    except TimeoutError:
        raise PreviewTimedOut(
            f"no renderer worker spoke the preview within {PREVIEW_TIMEOUT_SEC:.0f} s", timeout_sec=PREVIEW_TIMEOUT_SEC
        ) from None
    match audio.error_code:
        case None:
            return audio
        case ErrorCode.RATE_LIMITED:
            raise PreviewsBusy(audio.error_message or "the renderer is busy with other previews")
        case ErrorCode.VALIDATION_ERROR:
            raise InvalidField("text", audio.error_message or "cannot be spoken")
        case _:
            raise PreviewFailed(audio.error_message or "the TTS engine failed", voice=body.voice)


def engine_of(voice: str, aliases: dict[str, str]) -> str | None:
    """The engine `voice` needs (None: a bare voice of any worker's default engine). A spec that
    names an engine nobody knows is refused here: the renderer would take it for a bare voice of
    its default engine and speak with that engine's default voice instead."""
    spec = aliases.get(voice, voice)
    engine = required_engine(spec, aliases)
    if engine is None and ("#" in spec or ":" in spec):
        named = spec.partition("#")[0].partition(":")[0]
        raise InvalidField("voice", f"unknown TTS engine {named!r}; known: {', '.join(ENGINE_NAMES)}")
    return engine
