"""What the script endpoints return."""

from enum import Enum

import msgspec

from libs.contracts.script import LexiconEntry, Scene


class ScriptStatus(str, Enum):
    DRAFT = "DRAFT"
    APPROVED = "APPROVED"


class ScriptView(msgspec.Struct, kw_only=True):
    video_id: str
    script_id: str
    status: ScriptStatus
    title: str
    language: str
    voice: str | None
    rate: float
    voice_fallback: str
    lexicon: list[LexiconEntry] | None
    """The script's own pronunciations; null: the video's lexicon alone."""
    scenes: list[Scene]
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
