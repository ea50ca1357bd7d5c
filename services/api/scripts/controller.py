"""Script endpoints (SPEC §2)."""

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from services.api.auth.roles import Role, requires
from services.api.db.engine import Database
from services.api.db.models import ScriptRow
from services.api.dispatch.role import DispatcherRole
from services.api.examples import ScenePreviewRequest, ScriptBody
from services.api.http_errors import ErrorBody
from services.api.openapi import READ_ERRORS, WRITE_ERRORS, error_responses
from services.api.params import Limit, Offset, ScriptId, VideoId
from services.api.scripts.preview import render_scene_preview
from services.api.scripts.schemas import ScriptPage, ScriptStatus, ScriptSummary, ScriptView
from services.api.scripts.store import ScriptStore, decode_script
from services.api.settings import Settings
from services.api.timestamps import iso_utc

SCENE_PREVIEW_ERRORS = {
    code: ResponseSpec(ErrorBody, description=description)
    for code, description in (
        (502, "The renderer could not render the scene (TTS_FAILED with the engine's message, RENDER_FAILED, STORAGE_FAILED)"),
        (
            503,
            (
                "No connected renderer offers the script voice's engine, or this API instance is not the dispatcher "
                "(VOICE_UNAVAILABLE); ask again"
            ),
        ),
        (504, "No renderer rendered it in time (TIMEOUT)"),
    )
}


class ScriptController(Controller):
    path = "/videos/{video_id:str}/scripts"
    tags = ["scripts"]

    guards = [requires(Role.VIEWER)]

    @put(
        "/{script_id:str}",
        operation_id="putScript",
        status_code=HTTP_200_OK,
        guards=[requires(Role.EDITOR)],
        responses={**WRITE_ERRORS, HTTP_201_CREATED: ResponseSpec(ScriptView, description="Created")},
    )
    async def put_script(
        self, scripts: ScriptStore, subject: str, video_id: VideoId, script_id: ScriptId, data: ScriptBody
    ) -> Response[ScriptView]:
        """Create the script (201) or replace it while it is still a DRAFT (200)."""
        row, created = await scripts.put(video_id, script_id, data, subject)
        return Response(script_view(row), status_code=HTTP_201_CREATED if created else HTTP_200_OK)

    @post("/", operation_id="createScript", status_code=HTTP_201_CREATED, guards=[requires(Role.EDITOR)], responses=WRITE_ERRORS)
    async def create_script(self, scripts: ScriptStore, subject: str, video_id: VideoId, data: ScriptBody) -> ScriptView:
        """Create a DRAFT script with a server-chosen id."""
        return script_view(await scripts.create(video_id, data, subject))

    @get("/", operation_id="listScripts", responses=READ_ERRORS)
    async def list_scripts(self, scripts: ScriptStore, video_id: VideoId, limit: Limit = 20, offset: Offset = 0) -> ScriptPage:
        """The video's scripts, newest first."""
        rows, total = await scripts.page(video_id, limit, offset)
        return ScriptPage(
            video_id=video_id, scripts=[script_summary(row) for row in rows], total=total, limit=limit, offset=offset
        )

    @get("/{script_id:str}", operation_id="getScript", responses=READ_ERRORS)
    async def get_script(self, scripts: ScriptStore, video_id: VideoId, script_id: ScriptId) -> ScriptView:
        """One script with its scenes, status, author and timestamps."""
        return script_view(await scripts.get(video_id, script_id))

    @post(
        "/{script_id:str}/approve",
        operation_id="approveScript",
        status_code=HTTP_200_OK,
        guards=[requires(Role.APPROVER)],
        responses=WRITE_ERRORS,
    )
    async def approve_script(self, scripts: ScriptStore, video_id: VideoId, script_id: ScriptId) -> ScriptView:
        """DRAFT → APPROVED; approving an approved script changes nothing. 422 NARRATION_MISSING
        names the scenes still without narration (`detail.scenes`, 0-based)."""
        return script_view(await scripts.approve(video_id, script_id))

    @post(
        "/{script_id:str}/preview",
        operation_id="previewScene",
        status_code=HTTP_200_OK,
        guards=[requires(Role.EDITOR)],
        responses={
            **error_responses(401, 403, 404, 413, 422, 429),
            **SCENE_PREVIEW_ERRORS,
            HTTP_200_OK: ResponseSpec(bytes, description="The scene alone", media_type="video/mp4"),
        },
    )
    async def preview_scene(
        self,
        db: Database,
        dispatcher: DispatcherRole,
        settings: Settings,
        video_id: VideoId,
        script_id: ScriptId,
        data: ScenePreviewRequest,
    ) -> Response[bytes]:
        """One scene alone as an MP4 (its narration and its pause), rendered as the script's video
        would render it (voice, lexicon, theme, format, music, captions, loudness), DRAFT scripts too,
        beside any render in progress. 422 NARRATION_MISSING for a scene with nothing to say yet."""
        video = await render_scene_preview(db, dispatcher, settings, video_id, script_id, data.scene)
        return Response(video.video, media_type="video/mp4", headers={"cache-control": "no-store"})


def script_view(row: ScriptRow) -> ScriptView:
    return ScriptView(
        **msgspec.structs.asdict(decode_script(row)),
        video_id=row.video_id,
        script_id=row.script_id,
        status=ScriptStatus(row.status),
        created_by=row.created_by,
        created_at=iso_utc(row.created_at),
        updated_at=iso_utc(row.updated_at),
        approved_at=iso_utc(row.approved_at),
    )


def script_summary(row: ScriptRow) -> ScriptSummary:
    script = decode_script(row)
    return ScriptSummary(
        script_id=row.script_id,
        status=ScriptStatus(row.status),
        title=script.title,
        language=script.language,
        scene_count=len(script.scenes),
        created_by=row.created_by,
        created_at=iso_utc(row.created_at),
        updated_at=iso_utc(row.updated_at),
        approved_at=iso_utc(row.approved_at),
    )
