"""Caption words (SPEC §8.2): a sentence cut into the words that captions time and mark.

The rules, in the order they apply:
- Spaces delimit words. A Korean word (eojeol) keeps its particles and endings (`서울에서는`,
  `API를`), a number its unit (`10,000원`, `3.5kg`, `50%`).
- An emoji is a word of its own, even written against a word (`좋아요👍` is two words).
- Han and kana are written without spaces, so each of their characters is a word, but for Han
  in a Korean word (`(韓國)의` is one word).
- A piece with nothing to say (punctuation, symbols: `!`, `…`, `—`) belongs to the word before
  it; an opening quote or bracket to the word after it, as does anything before the sentence's
  first word. A lone straight quote opens when it is the first, third… of its kind.

A word is a span of its sentence, so engine word events (character positions) find their word,
and its text is exactly what the sentence shows there.
"""

import itertools
import re
import unicodedata
from dataclasses import dataclass

from services.renderer.text import graphemes

_SPACELESS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
"""Kana and Han (CJK ideographs), written without spaces between words."""
_OPENERS = {"Ps", "Pi"}
"""Unicode categories of opening brackets and quotes."""
_STRAIGHT_QUOTES = {'"', "'"}
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")
_HANGUL_SYLLABLES = ("\uac00", "\ud7a3")
_LATIN_VOWELS = re.compile(r"[aeiouy]+", re.IGNORECASE)


@dataclass(frozen=True)
class CaptionWord:
    text: str
    start: int
    """Index of its first character in the sentence."""
    end: int
    """Index after its last character."""


def caption_words(sentence: str) -> list[CaptionWord]:
    """The words of `sentence` in order, by the rules above; none for a blank sentence."""
    pieces = [piece for token in re.finditer(r"\S+", sentence) for piece in _pieces(token.group(), token.start())]
    words: list[tuple[int, int]] = []
    pending_start: int | None = None
    """Start of what waits for the next word: opening marks, or marks before the first word."""
    for start, end, text in pieces:
        if _says_something(text):
            words.append((start if pending_start is None else pending_start, end))
            pending_start = None
        elif words and pending_start is None and not _opens(text, sentence[:start]):
            words[-1] = (words[-1][0], end)
        elif pending_start is None:
            pending_start = start
    if pending_start is not None:
        # Marks with no word after them: the last word takes them, or they are the only word.
        words = [*words[:-1], (words[-1][0], pieces[-1][1])] if words else [(pending_start, pieces[-1][1])]
    return [CaptionWord(sentence[start:end], start, end) for start, end in words]


def _opens(mark: str, before: str) -> bool:
    if mark in _STRAIGHT_QUOTES:
        return before.count(mark) % 2 == 0
    return unicodedata.category(mark[0]) in _OPENERS


def _pieces(token: str, offset: int) -> list[tuple[int, int, str]]:
    """A space-free token cut where a word ends inside it: around each emoji, and each spaceless
    character unless the token is Korean. (start, end, text), positions in the sentence."""
    pieces: list[tuple[int, int, str]] = []
    position = offset
    glued = False
    """Whether the next grapheme may join the last piece."""
    korean = bool(_HANGUL.search(token))
    for cluster in graphemes(token):
        alone = is_emoji(cluster) or (not korean and bool(_SPACELESS.match(cluster)))
        if pieces and glued and not alone:
            start, _, text = pieces[-1]
            pieces[-1] = (start, position + len(cluster), text + cluster)
        else:
            pieces.append((position, position + len(cluster), cluster))
        glued = not alone
        position += len(cluster)
    return pieces


def _says_something(text: str) -> bool:
    return any(unicodedata.category(char)[0] in "LN" for char in text) or any(map(is_emoji, graphemes(text)))


def is_emoji(cluster: str) -> bool:
    """Whether a grapheme is drawn as an emoji: a pictograph, a flag, a keycap, or any character
    asked for in emoji style (U+FE0F). Without Unicode's emoji data (the standard library has
    none), pictographs are the symbols of the emoji blocks."""
    first = ord(cluster[0])
    if "\ufe0f" in cluster or "\u20e3" in cluster or "\u200d" in cluster:
        return True
    pictograph = first >= 0x1F000 or 0x2600 <= first <= 0x27BF or 0x2B00 <= first <= 0x2BFF
    return pictograph and unicodedata.category(cluster[0]) == "So"


def spoken_weight(text: str) -> float:
    """About how long a word takes to say, in syllables, for words no engine timed: a Hangul
    syllable, a Han or kana character, a digit, an emoji or a Latin vowel group each count one."""
    weight = 0
    for cluster in graphemes(text):
        char = cluster[0]
        if _HANGUL_SYLLABLES[0] <= char <= _HANGUL_SYLLABLES[1] or _SPACELESS.match(char) or char.isdigit() or is_emoji(cluster):
            weight += 1
    weight += len(_LATIN_VOWELS.findall(text))
    return float(max(weight, 1))


@dataclass(frozen=True)
class TimedWord:
    start: float
    end: float
    text: str
    engine_timed: bool
    """Whether its start is the engine's (a word event or SSML mark), not estimated."""


def time_words(sentence: str, start: float, end: float, starts: list[tuple[float, int]]) -> list[TimedWord]:
    """The words of `sentence`, spoken from `start` to `end` seconds, back to back.

    `starts` are the engine's word starts: (seconds, index of the word's first character in
    `sentence`). A word takes the earliest one inside it, unless that would run backwards; the
    others are placed between their timed neighbours (or the sentence's ends) by spoken_weight,
    so an estimate never crosses a sentence boundary."""
    words = caption_words(sentence)
    if not words:
        return []
    engine: dict[int, float] = {}
    for seconds, position in sorted(starts):
        index = _word_at(words, position)
        if index is not None and start <= seconds < end:
            engine.setdefault(index, seconds)
    weights = [spoken_weight(word.text) for word in words]
    before = [sum(weights[:index]) for index in range(len(words) + 1)]
    knots = [(0.0, start)]
    for index in sorted(engine):
        if engine[index] > knots[-1][1] or engine[index] == start == knots[-1][1]:
            knots.append((before[index], engine[index]))
        else:
            del engine[index]
    knots.append((before[-1], end))
    starts_at = [engine.get(index, _interpolate(knots, before[index])) for index in range(len(words))]
    if 0 not in engine:
        starts_at[0] = start
    ends_at = [*starts_at[1:], end]
    return [
        TimedWord(word_start, word_end, word.text, index in engine)
        for index, (word, word_start, word_end) in enumerate(zip(words, starts_at, ends_at))
    ]


def _word_at(words: list[CaptionWord], position: int) -> int | None:
    for index, word in enumerate(words):
        if word.start <= position < word.end:
            return index
    return None


def _interpolate(knots: list[tuple[float, float]], weight: float) -> float:
    """The time at `weight` syllables into the sentence, on the line through the knots around it."""
    for (weight_a, time_a), (weight_b, time_b) in itertools.pairwise(knots):
        if weight_a <= weight <= weight_b:
            return time_a if weight_b == weight_a else time_a + (time_b - time_a) * (weight - weight_a) / (weight_b - weight_a)
    return knots[-1][1]
