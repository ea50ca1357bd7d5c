"""Pronunciations (SPEC §8.1): what a video's or a script's lexicon does to the spoken text.

Applied to each sentence just before it is synthesized, never to captions. A term matches as a
whole word, longest term first, so `Open API` wins over `API` where both could match. Korean
writes particles onto the word before them, so a term may be followed by one: `API를` and
`API에서는` say the term then the particle; a term ending in a Latin letter or digit may be
followed by any Hangul (it can only be a particle or suffix), one ending in Hangul only by a
particle from PARTICLES, so `서울` matches in `서울은` but not in `서울시`.
"""

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from libs.contracts.script import LexiconEntry

PARTICLES = (
    "으로부터", "에게서", "한테서", "이라고", "께서는", "에서는", "으로는", "이에요", "입니다", "이라는",
    "에서", "에게", "한테", "까지", "부터", "처럼", "보다", "으로", "이나", "이랑", "마다", "조차", "라고",
    "이다", "예요", "라는", "께서", "에는", "로는", "와는", "과는", "도",
    "은", "는", "이", "가", "을", "를", "의", "에", "로", "와", "과", "만", "나", "랑", "야", "아", "께",
)  # fmt: skip
"""Korean particles (and common copula endings) that may follow a Hangul term; longest first,
since the regular expression takes the first alternative that fits."""
_HANGUL = "\uac00-\ud7a3"
_AFTER_LATIN = rf"(?![^\W{_HANGUL}])"
"""After a term ending in a Latin letter or digit: no more word characters, except Hangul."""
_AFTER_HANGUL = rf"(?=(?:{'|'.join(sorted(PARTICLES, key=len, reverse=True))})?(?!\w))"
_AFTER_OTHER = r"(?!\w)"


def merge(video: Iterable[LexiconEntry], script: Iterable[LexiconEntry] | None) -> list[LexiconEntry]:
    """The lexicon a job uses: the video's entries, then the script's, a script entry replacing
    the video's entry for the same term (compared without case)."""
    script = list(script or [])
    replaced = {entry.term.casefold() for entry in script}
    return [entry for entry in video if entry.term.casefold() not in replaced] + script


@dataclass(frozen=True)
class Spoken:
    """A sentence as it is said, and where each of its characters was written, so engine word
    events in the said text find their words in the written one (captions)."""

    text: str
    said_terms: tuple[tuple[int, int, int, int], ...] = ()
    """(said start, said end, written start, written end) of each term the lexicon replaced, in order."""

    def written_at(self, index: int) -> int:
        """Where the character at `index` of `text` was written; in a said term, the term's start."""
        shift = 0
        for said_start, said_end, written_start, written_end in self.said_terms:
            if index < said_start:
                break
            if index < said_end:
                return written_start
            shift = written_end - said_end
        return index + shift


class Pronouncer:
    """Rewrites text with one lexicon; build once per job, apply to every sentence."""

    def __init__(self, entries: Iterable[LexiconEntry]) -> None:
        # The last entry for a term wins (merge() puts the script's last).
        by_term = {(entry.term if entry.case_sensitive else entry.term.casefold()): entry for entry in entries}
        ordered = sorted(by_term.values(), key=lambda entry: len(entry.term), reverse=True)
        self._says = {}
        alternatives = []
        for index, entry in enumerate(ordered):
            group = f"t{index}"
            self._says[group] = entry.say
            term = re.escape(entry.term) if entry.case_sensitive else f"(?i:{re.escape(entry.term)})"
            alternatives.append(f"(?P<{group}>{term}){_after(entry.term[-1])}")
        self._pattern = re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})") if alternatives else None

    def __call__(self, text: str) -> str:
        return self.spoken(text).text

    def spoken(self, text: str) -> Spoken:
        if self._pattern is None:
            return Spoken(text)
        pieces: list[str] = []
        said_terms = []
        written = said = 0
        for match in self._pattern.finditer(text):
            # Every alternative is a named group: the one that matched names what to say.
            say = self._says[cast(str, match.lastgroup)]
            pieces += [text[written : match.start()], say]
            said += match.start() - written
            said_terms.append((said, said + len(say), match.start(), match.end()))
            said += len(say)
            written = match.end()
        pieces.append(text[written:])
        return Spoken("".join(pieces), tuple(said_terms))


def _after(last: str) -> str:
    if last.isascii() and last.isalnum():
        return _AFTER_LATIN
    if "\uac00" <= last <= "\ud7a3":
        return _AFTER_HANGUL
    return _AFTER_OTHER if last.isalnum() or last == "_" else ""


@functools.lru_cache(maxsize=64)
def _cached(entries: tuple[LexiconEntry, ...]) -> Pronouncer:
    return Pronouncer(entries)


def pronouncer(entries: Iterable[LexiconEntry]) -> Pronouncer:
    """A Pronouncer for `entries`, shared by the jobs and previews with the same lexicon."""
    return _cached(tuple(entries))
