"""`GET /api/v2/voices` and `POST /api/v2/voices/preview` (SPEC §8.1)."""

from litestar import Controller, Response, get, post
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK

from services.api.auth.roles import Role, requires
from services.api.db.engine import Database
from services.api.dispatch.role import DispatcherRole
from services.api.examples import VoicePreviewRequest
from services.api.http_errors import ErrorBody
from services.api.openapi import READ_ERRORS, error_responses
from services.api.settings import Settings
from services.api.voices.preview import speak_preview
from services.api.voices.schemas import LanguageFilter, VoiceCatalog, of_language

PREVIEW_ERRORS = {
    code: ResponseSpec(ErrorBody, description=description)
    for code, description in (
        (502, "The TTS engine could not speak it (TTS_FAILED, with the engine's message)"),
        (
            503,
            (
                "No connected renderer offers the voice's engine, or this API instance is not the dispatcher "
                "(VOICE_UNAVAILABLE); ask again"
            ),
        ),
        (504, "No renderer spoke it in time (TIMEOUT)"),
    )
}


class VoiceController(Controller):
    path = "/voices"
    tags = ["voices"]
    guards = [requires(Role.VIEWER)]

    @get("/", operation_id="listVoices", responses=READ_ERRORS)
    async def list_voices(self, dispatcher: DispatcherRole, language: LanguageFilter = None) -> VoiceCatalog:
        """The voices the connected renderers can speak now, each once, optionally of one
        language; a `voice` is what a script's `voice` names."""
        voices = of_language(await dispatcher.voices(), language)
        return VoiceCatalog(voices=voices, total=len(voices))

    @post(
        "/preview",
        operation_id="previewVoice",
        status_code=HTTP_200_OK,
        guards=[requires(Role.EDITOR)],
        responses={
            **error_responses(401, 403, 413, 422, 429),
            **PREVIEW_ERRORS,
            HTTP_200_OK: ResponseSpec(bytes, description="The spoken text", media_type="audio/wav"),
        },
    )
    async def preview_voice(
        self, db: Database, dispatcher: DispatcherRole, settings: Settings, data: VoicePreviewRequest
    ) -> Response[bytes]:
        """Speak `text` (up to 300 characters) with `voice`, and with the video's lexicon when
        `video_id` is given, beside any render in progress."""
        audio = await speak_preview(db, dispatcher, settings, data)
        return Response(audio.audio, media_type=audio.content_type, headers={"cache-control": "no-store"})
