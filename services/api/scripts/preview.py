"""Rendering a scene preview (SPEC §8.3): the script cut here to its one scene, with the lexicon
and frame a render of it would get, rendered by a renderer worker's preview lane
(RenderBroker.preview_scene), its answer mapped to SPEC §2's errors."""

import uuid

import msgspec

from libs.contracts.bus import ScenePreviewRequest, ScenePreviewVideo
from libs.contracts.codes import ErrorCode
from libs.contracts.script import LexiconEntry, Script, is_blank
from libs.contracts.theme import ThemeAssets
from libs.contracts.voices import parse_aliases, required_engine
from libs.lexicon import merge
from services.api.db.engine import Database
from services.api.dispatch.broker import output_spec
from services.api.dispatch.role import DispatcherRole
from services.api.errors import (
    InvalidField,
    NarrationMissing,
    PreviewsBusy,
    PreviewTimedOut,
    ScenePreviewFailed,
    ScriptNotFound,
)
from services.api.jobs.statements import SCRIPT_TO_RENDER, THEME_TO_RENDER
from services.api.lexicon.store import decode_entries
from services.api.settings import Settings
from services.api.themes.snapshot import theme_assets

SCENE_PREVIEW_TIMEOUT_SEC = 60.0
"""A scene says at most 5,000 characters: minutes of speech from a cloud voice that may retry,
encoded at many times real time. One that takes longer has gone wrong."""


async def render_scene_preview(
    db: Database, dispatcher: DispatcherRole, settings: Settings, video_id: str, script_id: str, scene: int
) -> ScenePreviewVideo:
    script, lexicon, theme = await _as_a_job_would_get_it(db, video_id, script_id)
    request = ScenePreviewRequest(
        request_id=uuid.uuid4().hex,
        video_id=video_id,
        script=_cut_to_scene(script, scene),
        # A preview is answered, never stored: no storage key.
        output=output_spec(settings, script.format, storage_key=""),
        lexicon=lexicon,
        theme=theme,
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


async def _as_a_job_would_get_it(
    db: Database, video_id: str, script_id: str
) -> tuple[Script, list[LexiconEntry], ThemeAssets | None]:
    """The script, with the lexicon and theme a render job created now would keep
    (jobs/lifecycle.py), read as the job's create reads them: one connection, the same statements.
    InvalidField names `$.theme` when the theme or its media are gone."""
    async with db.reader.connect() as connection:
        row = (await connection.execute(SCRIPT_TO_RENDER, {"video_id": video_id, "script_id": script_id})).first()
        if row is None:
            raise ScriptNotFound.of(video_id, script_id)
        script = msgspec.json.decode(row.body, type=Script)
        theme = None
        if script.theme is not None:
            theme_row = (await connection.execute(THEME_TO_RENDER, {"theme_id": script.theme})).first()
            theme = theme_assets(script.theme, theme_row)
    return script, merge(decode_entries(row.video_lexicon), script.lexicon), theme


def _cut_to_scene(script: Script, index: int) -> Script:
    """The script with scene `index` alone: everything else (voice, format, music, captions …) as it is."""
    scenes = script.scenes
    if index >= len(scenes):
        raise InvalidField("$.scene", f"the script has {len(scenes)} scenes, counted from 0 to {len(scenes) - 1}")
    if is_blank(scenes[index].narration):
        # The 422 approval gives a scene without narration: a draft may have one, a video may not.
        raise NarrationMissing(f"Scene {index} has no narration to preview yet.", scenes=[index])
    return msgspec.structs.replace(script, scenes=[scenes[index]])
