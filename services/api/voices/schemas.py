"""What the voice endpoints accept and return (SPEC §8.1)."""

from typing import Annotated

import msgspec
from litestar.params import Parameter

from libs.contracts.bus import VoiceInfo
from libs.contracts.script import LANGUAGE_TAG_PATTERN, LanguageTag, VoiceSpecText
from services.api.params import ResourceId

MAX_PREVIEW_CHARS = 300

LanguageFilter = Annotated[
    str | None,
    Parameter(
        pattern=LANGUAGE_TAG_PATTERN,
        description="BCP-47 tag; voices of its primary subtag (ko-KR: every ko voice).",
    ),
]


class VoiceCatalog(msgspec.Struct, kw_only=True):
    voices: list[VoiceInfo]
    total: int


class VoicePreviewBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    voice: VoiceSpecText
    language: LanguageTag
    text: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=MAX_PREVIEW_CHARS,
            description="What to say: a script's first sentence, say.",
        ),
    ]
    video_id: ResourceId | None = None
    """Speak with this video's lexicon (PUT …/lexicon)."""


def of_language(voices: list[VoiceInfo], language: str | None) -> list[VoiceInfo]:
    """The voices whose language has `language`'s primary subtag (all of them for None)."""
    if language is None:
        return voices
    wanted = primary_subtag(language)
    return [voice for voice in voices if primary_subtag(voice.language) == wanted]


def primary_subtag(language: str) -> str:
    return language.split("-", 1)[0].lower()
