"""What the lexicon endpoints accept and return (SPEC §8.1)."""

import msgspec

from libs.contracts.script import Lexicon, LexiconEntry, lexicon_problem


class LexiconBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The video's whole lexicon: it replaces the one stored."""

    entries: Lexicon

    def __post_init__(self) -> None:
        # Raised as a ValidationError ending in the field's location, which the 422 names.
        problem = lexicon_problem(self.entries, "$.entries")
        if problem is not None:
            raise ValueError(problem)


class VideoLexicon(msgspec.Struct, kw_only=True, omit_defaults=True):
    video_id: str
    entries: list[LexiconEntry]
    updated_at: str | None = None
    """When the lexicon was last replaced; absent while the video has none."""
    updated_by: str | None = None
    """The subject of the token that replaced it."""
