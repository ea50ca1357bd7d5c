"""The timed text of a video: SRT and WebVTT cues from the synthesized sentence times (at most
two lines each, in order, WebVTT's with each word's time), and words.json."""

import itertools
import unicodedata
from dataclasses import dataclass, field
from html import escape

import msgspec

from services.renderer.line_breaks import caption_pages
from services.renderer.words import TimedWord

WIDE_LINE_CHARS = 32
"""Korean/CJK glyphs are about twice as wide as Latin ones, so fewer fit a line."""
NARROW_LINE_CHARS = 42
WIDE_SHARE = 0.3
"""Text counts as Korean-heavy from this share of wide characters on."""


@dataclass(frozen=True)
class TimedSentence:
    text: str
    start: float
    end: float
    scene: int = 0
    """Index of its scene in the script."""
    words: list[TimedWord] = field(default_factory=list)


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    lines: list[str]
    word_starts: list[tuple[int, int, int]] = field(default_factory=list)
    """(line, character in the line, ms) where a word starts after the cue's start: WebVTT's
    inline timestamps, strictly increasing and inside the cue."""


def build_cues(sentences: list[TimedSentence], duration: float) -> list[Cue]:
    """Cues in time order that never overlap and never end after `duration` seconds.

    A sentence too long for two lines becomes several cues sharing its time by characters.
    A piece of text whose share rounds to no time at all (silent sentences) gets no cue.
    """
    end_limit = round(duration * 1000)
    cues: list[Cue] = []
    for sentence in sentences:
        clock = _Clock(sentence)
        limit = WIDE_LINE_CHARS if _is_wide(sentence.text) else NARROW_LINE_CHARS
        pages = caption_pages(sentence.text, len, limit)
        lines = [line for page in pages for line in page]
        # Visible (non-space) characters of the sentence before each line, and after the last.
        line_starts = list(itertools.accumulate((_visible_length(line) for line in lines), initial=0))
        first = 0
        for number, page in enumerate(pages):
            after = first + len(page)
            start_ms = max(round(clock.at(line_starts[first]) * 1000), cues[-1].end_ms if cues else 0)
            end = clock.at(line_starts[after]) if number + 1 < len(pages) else sentence.end
            end_ms = min(round(end * 1000), end_limit)
            if end_ms > start_ms:
                word_starts = _word_starts(clock, list(enumerate(page, start=first)), line_starts, start_ms, end_ms)
                cues.append(Cue(start_ms, end_ms, page, word_starts))
            first = after
    return cues


def _visible_length(text: str) -> int:
    return sum(not char.isspace() for char in text)


class _Clock:
    """When a sentence says its n-th visible character: at its word's start, or that far into
    its word (a line may start inside a word too long for one); by characters when the
    sentence has no words."""

    def __init__(self, sentence: TimedSentence) -> None:
        self._sentence = sentence
        self._visible = _visible_length(sentence.text)
        self._word_starts: dict[int, float] = {}
        self._words: list[tuple[int, int, TimedWord]] = []
        """(visible characters before the word, its visible length, the word)."""
        before = 0
        for word in sentence.words:
            length = _visible_length(word.text)
            self._words.append((before, length, word))
            self._word_starts[before] = word.start
            before += length

    def at(self, position: int) -> float:
        sentence = self._sentence
        if not self._words:
            return sentence.start + (sentence.end - sentence.start) * position / max(1, self._visible)
        before, length, word = next(entry for entry in reversed(self._words) if entry[0] <= position)
        return word.start + (word.end - word.start) * min(position - before, length) / max(1, length)

    def word_start(self, position: int) -> float | None:
        """When the word that starts at this visible character starts; None inside a word."""
        return self._word_starts.get(position)


def _word_starts(
    clock: _Clock, lines: list[tuple[int, str]], line_starts: list[int], start_ms: int, end_ms: int
) -> list[tuple[int, int, int]]:
    starts = []
    last_ms = start_ms
    for cue_line, (number, line) in enumerate(lines):
        position = line_starts[number]
        for offset, char in enumerate(line):
            if char.isspace():
                continue
            seconds = clock.word_start(position)
            position += 1
            if seconds is not None and last_ms < round(seconds * 1000) < end_ms:
                last_ms = round(seconds * 1000)
                starts.append((cue_line, offset, last_ms))
    return starts


def _is_wide(text: str) -> bool:
    visible = [char for char in text if not char.isspace()]
    wide = sum(unicodedata.east_asian_width(char) in "WF" for char in visible)
    return wide >= WIDE_SHARE * len(visible)


def to_srt(cues: list[Cue]) -> str:
    blocks = (
        f"{number}\n{_timestamp(cue.start_ms, ',')} --> {_timestamp(cue.end_ms, ',')}\n" + "\n".join(cue.lines)
        for number, cue in enumerate(cues, start=1)
    )
    return "".join(block + "\n\n" for block in blocks)


def to_vtt(cues: list[Cue], *, word_times: bool = False) -> str:
    """WebVTT; with `word_times`, an inline timestamp (`<00:00:01.200>`) before each word that
    starts after its cue does, which players use for `:past`/`:future` styling."""
    blocks = (
        f"{_timestamp(cue.start_ms, '.')} --> {_timestamp(cue.end_ms, '.')}\n"
        + "\n".join(_vtt_line(cue, number, line, word_times) for number, line in enumerate(cue.lines))
        for cue in cues
    )
    return "WEBVTT\n\n" + "".join(block + "\n\n" for block in blocks)


def _vtt_line(cue: Cue, number: int, line: str, word_times: bool) -> str:
    # Escaping also turns a "-->" in the text into "--&gt;", which WebVTT forbids in cue text.
    marks = [(offset, ms) for line_number, offset, ms in cue.word_starts if line_number == number] if word_times else []
    pieces = []
    done = 0
    for offset, ms in marks:
        pieces += [escape(line[done:offset], quote=False), f"<{_timestamp(ms, '.')}>"]
        done = offset
    pieces.append(escape(line[done:], quote=False))
    return "".join(pieces)


def _timestamp(ms: int, separator: str) -> str:
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


class _WordTime(msgspec.Struct):
    start: float
    end: float
    text: str
    scene: int
    timing: str
    """"engine" where the engine timed the word, "estimated" where it was placed by syllables."""


def to_words_json(sentences: list[TimedSentence], duration: float) -> bytes:
    """words.json (SPEC §8.2): every word in time order, in seconds to the millisecond."""
    words = [
        _WordTime(
            round(min(word.start, duration), 3),
            round(min(word.end, duration), 3),
            word.text,
            sentence.scene,
            "engine" if word.engine_timed else "estimated",
        )
        for sentence in sentences
        for word in sentence.words
    ]
    return msgspec.json.encode(words)
