"""Rendering a scene preview (SPEC §8.3): the script cut here to its one scene, with the lexicon
and frame a render of it would get, rendered by a renderer worker's preview lane
(RenderBroker.preview_scene), its answer mapped to SPEC §2's errors."""

import uuid

import msgspec

from libs.contracts.bus import ScenePreviewRequest, ScenePreviewVideo
from libs.contracts.codes import ErrorCode
from libs.contracts.script import Script, is_blank
from libs.contracts.theme import ThemeAssets
from libs.contracts.voices import parse_aliases, required_engine
from libs.lexicon import merge
from services.api.db.engine import Database
from services.api.dispatch.broker import output_spec
from services.api.dispatch.role import DispatcherRole
from services.api.errors import InvalidField, NarrationMissing, PreviewsBusy, PreviewTimedOut, ScenePreviewFailed
from services.api.jobs.statements import THEME_TO_RENDER
from services.api.lexicon.store import video_lexicon
from services.api.scripts.store import ScriptStore, decode_script
from services.api.settings import Settings
from services.api.themes.snapshot import decode_job_theme, job_theme

SCENE_PREVIEW_TIMEOUT_SEC = 60.0
"""A scene says at most 5,000 characters: minutes of speech from a cloud voice that may retry,
encoded at many times real time. One that takes longer has gone wrong."""


async def render_scene_preview(
    db: Database,
    scripts: ScriptStore,
    dispatcher: DispatcherRole,
    settings: Settings,
    video_id: str,
    script_id: str,
    scene: int,
) -> ScenePreviewVideo:
    script = decode_script(await scripts.get(video_id, script_id))
    request = ScenePreviewRequest(
        request_id=uuid.uuid4().hex,
        video_id=video_id,
        script=_cut_to_scene(script, scene),
        # A preview is answered, never stored: no storage key.
        output=output_spec(settings, script.format, storage_key=""),
        # What a render job of the script would be created with (lexicon/store.py job_snapshot).
        lexicon=merge(await video_lexicon(db, video_id), script.lexicon),
        theme=await _theme(db, script.theme),
        deadline_sec=SCENE_PREVIEW_TIMEOUT_SEC,
    )
    engine = required_engine(script.voice, parse_aliases(settings.tts_voice_aliases))
    try:
        video = await dispatcher.preview_scene(request, engine, SCENE_PREVIEW_TIMEOUT_SEC)
    except TimeoutError:
        raise PreviewTimedOut(
            f"no renderer worker rendered the scene within {SCENE_PREVIEW_TIMEOUT_SEC:.0f} s",
            timeout_sec=SCENE_PREVIEW_TIMEOUT_SEC,
        ) from None
    match video.error_code:
        case None:
            return video
        case ErrorCode.RATE_LIMITED:
            raise PreviewsBusy(video.error_message or "the renderer is busy with other previews")
        case code:
            raise ScenePreviewFailed(code, video.error_message or "the renderer could not render the scene", scene=scene)


async def _theme(db: Database, theme_id: str | None) -> ThemeAssets | None:
    """The script's theme as a render job created now would keep it (jobs/lifecycle.py): its media
    resolved, or InvalidField naming `$.theme` when it or its media are gone."""
    if theme_id is None:
        return None
    async with db.reader.connect() as connection:
        row = (await connection.execute(THEME_TO_RENDER, {"theme_id": theme_id})).first()
    return decode_job_theme(job_theme(theme_id, row))


def _cut_to_scene(script: Script, index: int) -> Script:
    """The script with scene `index` alone: everything else (voice, format, music, captions …) as it is."""
    scenes = script.scenes
    if index >= len(scenes):
        raise InvalidField("$.scene", f"the script has {len(scenes)} scenes, counted from 0 to {len(scenes) - 1}")
    if is_blank(scenes[index].narration):
        # The 422 approval gives a scene without narration: a draft may have one, a video may not.
        raise NarrationMissing(f"Scene {index} has no narration to preview yet.", scenes=[index])
    return msgspec.structs.replace(script, scenes=[scenes[index]])
