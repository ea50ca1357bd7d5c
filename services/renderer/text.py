"""Text helpers shared by TTS, slides and subtitles: cleaning, sentences, graphemes, line wrapping."""

import re
import unicodedata
from collections.abc import Callable

from libs.contracts.script import is_blank

MAX_SENTENCE_CHARS = 100
"""Longer sentences are split at a comma or space so each one gets its own exactly timed cue."""

# A sentence ends after terminal punctuation (and one closing quote/bracket) followed by a space,
# so "3.14" stays whole; full-width marks end one even without a space, as CJK text has none.
_CLOSER = "\"'”’)\\]」』"
_SENTENCE_END = re.compile(rf"(?<=[.?!…])\s+|(?<=[.?!…][{_CLOSER}])\s+|(?<=[。！？])(?![{_CLOSER}])\s*")
_CLAUSE_BREAKS = (", ", "、", "，", "; ", ": ")
_ZWJ = "\u200d"
_SKIN_TONES = ("\U0001f3fb", "\U0001f3ff")
_TAGS = ("\U000e0020", "\U000e007f")
"""Tag characters spell a subdivision flag after 🏴 (England, Scotland, Wales)."""
_REGIONAL_INDICATORS = ("\U0001f1e6", "\U0001f1ff")
"""Two of them are one country's flag."""


def clean_text(text: str) -> str:
    """NFC text without control characters or lone surrogates, which encoders and FreeType reject.

    Line breaks are kept; other control characters become spaces so no word is glued or dropped.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", "".join(_clean_char(char) for char in text))


def _clean_char(char: str) -> str:
    match unicodedata.category(char):
        case "Cs":
            return "\ufffd"
        case "Cc" if char != "\n":
            return " "
        case _:
            return char


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """Sentences of cleaned `text` in order; none longer than `max_chars` and none blank."""
    sentences = []
    for paragraph in clean_text(text).split("\n"):
        for sentence in _SENTENCE_END.split(paragraph):
            sentences.extend(_split_long(sentence.strip(), max_chars))
    return [sentence for sentence in sentences if not is_blank(sentence)]


def _split_long(sentence: str, max_chars: int) -> list[str]:
    pieces = []
    while len(sentence) > max_chars:
        cut = _last_break(sentence, max_chars)
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    pieces.append(sentence)
    return pieces


def _last_break(sentence: str, max_chars: int) -> int:
    """Where to cut: after the last clause mark, else the last space, else at `max_chars`."""
    window = sentence[:max_chars]
    for marks in (_CLAUSE_BREAKS, (" ",)):
        cut = max(window.rfind(mark) + len(mark) if mark in window else 0 for mark in marks)
        if cut > max_chars // 3:
            return cut
    return max_chars


def graphemes(text: str) -> list[str]:
    """`text` cut into what a reader sees as single characters, which must never be split.

    A character keeps its marks and variation selectors (keycaps, emoji style), an emoji its skin
    tone, tags and ZWJ-joined followers, and regional indicators pair into flags. This is the part
    of Unicode's grapheme rules (UAX #29) that slides and subtitles meet; the standard library has none.
    """
    clusters: list[str] = []
    for char in text:
        if clusters and _continues(clusters[-1], char):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _continues(cluster: str, char: str) -> bool:
    if cluster.endswith(_ZWJ):
        return not char.isspace()
    if _within(char, _REGIONAL_INDICATORS):
        return len(cluster) == 1 and _within(cluster, _REGIONAL_INDICATORS)
    return char == _ZWJ or unicodedata.category(char) in ("Mn", "Mc", "Me") or _within(char, _SKIN_TONES) or _within(char, _TAGS)


def _within(char: str, bounds: tuple[str, str]) -> bool:
    return bounds[0] <= char <= bounds[1]


def wrap(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Greedy line wrap between words; a word too long for a line is broken between graphemes.

    `fits(line)` says whether a line is short enough (in pixels or characters). Explicit line
    breaks in `text` are kept. Every non-space character of `text` ends up in some line.
    """
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if fits(candidate):
                line = candidate
                continue
            if line:
                lines.append(line)
            *full_lines, line = _break_word(word, fits)
            lines.extend(full_lines)
        lines.append(line)
    return lines


def _break_word(word: str, fits: Callable[[str], bool]) -> list[str]:
    """`word` cut into the longest pieces that fit (at least one grapheme each)."""
    pieces = []
    clusters = graphemes(word)
    while clusters and not fits("".join(clusters)):
        cut = _longest_fitting_prefix(clusters, fits)
        pieces.append("".join(clusters[:cut]))
        clusters = clusters[cut:]
    pieces.append("".join(clusters))
    return pieces


def _longest_fitting_prefix(clusters: list[str], fits: Callable[[str], bool]) -> int:
    low, high = 1, len(clusters)
    while low < high:
        middle = (low + high + 1) // 2
        if fits("".join(clusters[:middle])):
            low = middle
        else:
            high = middle - 1
    return low
