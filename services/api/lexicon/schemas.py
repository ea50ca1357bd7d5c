"""What the lexicon endpoints accept and return (SPEC §8.1)."""

from collections.abc import Iterable

import msgspec

from libs.contracts.script import Lexicon, LexiconEntry, is_blank


class LexiconBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The video's whole lexicon: it replaces the one stored."""

    entries: Lexicon

    def __post_init__(self) -> None:
        # Raised as a ValidationError ending in the field's location, which the 422 names.
        problem = first_problem(self.entries)
        if problem is not None:
            raise ValueError(problem)


class VideoLexicon(msgspec.Struct, kw_only=True, omit_defaults=True):
    video_id: str
    entries: list[LexiconEntry]
    updated_at: str | None = None
    """When the lexicon was last replaced; absent while the video has none."""
    updated_by: str | None = None
    """The subject of the token that replaced it."""


def first_problem(entries: Iterable[LexiconEntry]) -> str | None:
    """What is wrong with the first entry the limits alone let through, or None.

    A blank term can match nothing a reader would call a word, and a blank `say` would leave
    the sentence silent where the term stood. Two entries the pronouncer would file under the
    same term (libs/lexicon.py: case folded unless case-sensitive) would drop one without a
    word, so the second is refused instead of being silently ignored."""
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if is_blank(entry.term):
            return f"a term needs a visible character - at `$.entries[{index}].term`"
        if is_blank(entry.say):
            return f"`say` needs something to speak - at `$.entries[{index}].say`"
        key = entry.term if entry.case_sensitive else entry.term.casefold()
        if key in first_index:
            return f"{entry.term!r} is already entries[{first_index[key]}] - at `$.entries[{index}].term`"
        first_index[key] = index
    return None
