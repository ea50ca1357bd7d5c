"""What the script endpoints return."""

from enum import Enum
from typing import Annotated

import msgspec

from libs.contracts.script import Script


class ScenePreviewBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    scene: Annotated[int, msgspec.Meta(ge=0, description="The scene to preview, counted from 0 as in `$.scenes[i]`.")]


class ScriptStatus(str, Enum):
    DRAFT = "DRAFT"
    APPROVED = "APPROVED"


class ScriptView(Script, kw_only=True):
    """The script with every field it was saved with (a Script, so a field added to the script
    is returned without being listed twice), and its record."""

    video_id: str
    script_id: str
    status: ScriptStatus
    created_by: str
    created_at: str
    updated_at: str
    approved_at: str | None


class ScriptSummary(msgspec.Struct, kw_only=True):
    script_id: str
    status: ScriptStatus
    title: str
    language: str
    scene_count: int
    created_by: str
    created_at: str
    updated_at: str
    approved_at: str | None


class ScriptPage(msgspec.Struct, kw_only=True):
    video_id: str
    scripts: list[ScriptSummary]
    total: int
    limit: int
    offset: int
