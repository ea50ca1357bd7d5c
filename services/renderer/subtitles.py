"""SRT and WebVTT cues from the synthesized sentence times: at most two lines each, in order."""

import unicodedata
from dataclasses import dataclass, field
from html import escape

from services.renderer.text import wrap
from services.renderer.words import TimedWord

MAX_LINES = 2
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


def build_cues(sentences: list[TimedSentence], duration: float) -> list[Cue]:
    """Cues in time order that never overlap and never end after `duration` seconds.

    A sentence too long for two lines becomes several cues sharing its time by characters.
    A piece of text whose share rounds to no time at all (silent sentences) gets no cue.
    """
    end_limit = round(duration * 1000)
    cues: list[Cue] = []
    for sentence in sentences:
        for start, end, lines in _split_sentence(sentence):
            start_ms = max(round(start * 1000), cues[-1].end_ms if cues else 0)
            end_ms = min(round(end * 1000), end_limit)
            if end_ms > start_ms:
                cues.append(Cue(start_ms, end_ms, lines))
    return cues


def _split_sentence(sentence: TimedSentence) -> list[tuple[float, float, list[str]]]:
    width = WIDE_LINE_CHARS if _is_wide(sentence.text) else NARROW_LINE_CHARS
    lines = wrap(sentence.text, lambda line: len(line) <= width)
    groups = [lines[i : i + MAX_LINES] for i in range(0, len(lines), MAX_LINES)]
    total_chars = max(1, sum(map(len, lines)))
    seconds_per_char = (sentence.end - sentence.start) / total_chars
    pieces = []
    start = sentence.start
    for group in groups:
        end = start + seconds_per_char * sum(map(len, group))
        pieces.append((start, end, group))
        start = end
    return pieces


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


def to_vtt(cues: list[Cue]) -> str:
    # Escaping also turns a "-->" in the text into "--&gt;", which WebVTT forbids in cue text.
    blocks = (
        f"{_timestamp(cue.start_ms, '.')} --> {_timestamp(cue.end_ms, '.')}\n"
        + "\n".join(escape(line, quote=False) for line in cue.lines)
        for cue in cues
    )
    return "WEBVTT\n\n" + "".join(block + "\n\n" for block in blocks)


def _timestamp(ms: int, separator: str) -> str:
    seconds, millis = divmod(ms, 1000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"
