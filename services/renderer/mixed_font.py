"""Lines drawn in a text font with colour emoji from a second font beside it, and, for a font of
the user's own (a theme's), the bundled font drawing what it lacks.

Pillow has no font fallback, so a line is cut into runs by what each font covers, and each run is
measured and drawn with its own font on the line's baseline. Wrapping measures the same runs the
picture draws, so an emoji takes as much room in the layout as on the slide.

ZWJ sequences, flags and skin tones become one glyph through Pillow's raqm layout (HarfBuzz with
the system FriBiDi); without it they are drawn as their parts, still in colour but wider.
"""

import enum
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import ImageDraw, ImageFont

from services.renderer.text import graphemes


@dataclass(frozen=True)
class Coverage:
    emoji: frozenset[int]
    """The code points the emoji font has."""
    prefers_emoji: frozenset[int]
    """Code points that send a grapheme to the emoji font: those the text fonts lack, and U+FE0F
    (emoji style asked for), so "☎" keeps the text font's glyph while "☎️" is drawn in colour."""
    text: frozenset[int] | None = None
    """The code points the text font has, when a fallback font draws the graphemes it lacks;
    None: the text font draws all but emoji."""


class _Face(enum.Enum):
    TEXT = enum.auto()
    FALLBACK = enum.auto()
    EMOJI = enum.auto()


@dataclass(frozen=True)
class Run:
    text: str
    font: ImageFont.FreeTypeFont
    emoji: bool
    x: float
    """Offset from the line's left edge."""


class MixedFont:
    """A text face of one size and weight, with the emoji font at the same size for what it lacks
    (and a fallback face of the same size and weight for the rest, when `coverage.text` is known)."""

    def __init__(
        self,
        text: ImageFont.FreeTypeFont,
        emoji: ImageFont.FreeTypeFont,
        coverage: Coverage,
        fallback: ImageFont.FreeTypeFont | None = None,
    ) -> None:
        self._text, self._emoji, self._coverage = text, emoji, coverage
        self._fallback = fallback if coverage.text is not None else None
        ascent, descent = text.getmetrics()
        self._ascent = ascent
        self._emoji_lengths: dict[str, float] = {}
        # The text font alone sets the line spacing: OpenMoji's ink stays within Noto Sans CJK's
        # 1.16 em ascent and 0.29 em descent, but for 🦁 (0.33 below), which the margin takes; a
        # fallback's Hangul or Han stays within the ascent and descent a Latin font has.
        self.line_height = ascent + descent

    @property
    def size(self) -> float:
        return self._text.size

    def runs(self, text: str) -> list[Run]:
        """`text` as consecutive runs of one font each; a grapheme is never split between runs."""
        runs, x = [], 0.0
        for piece, face in self._pieces(text):
            runs.append(Run(piece, self._font(face), emoji=face is _Face.EMOJI, x=x))
            x += self._piece_length(piece, face)
        return runs

    def length(self, text: str) -> float:
        return sum(self._piece_length(piece, face) for piece, face in self._pieces(text))

    def bbox(self, text: str) -> tuple[float, float, float, float]:
        """The ink box of `text` drawn at (0, 0), the left and ascender-top of the line."""
        boxes = [self._run_bbox(run) for run in self.runs(text)]
        return (
            min(box[0] for box in boxes),
            min(box[1] for box in boxes),
            max(box[2] for box in boxes),
            max(box[3] for box in boxes),
        )

    def draw(self, draw: ImageDraw.ImageDraw, position: tuple[int, int], text: str, fill: str) -> None:
        """Draws `text` with its line's left and ascender-top at `position`."""
        left, top = position
        for run in self.runs(text):
            draw.text(
                (left + run.x, top + self._ascent),
                run.text,
                font=run.font,
                fill=fill,
                anchor="ls",
                embedded_color=run.emoji,
            )

    def _run_bbox(self, run: Run) -> tuple[float, float, float, float]:
        left, top, right, bottom = run.font.getbbox(run.text, anchor="ls")
        return left + run.x, top + self._ascent, right + run.x, bottom + self._ascent

    def _pieces(self, text: str) -> Iterator[tuple[str, _Face]]:
        """The runs' texts, each with the face that draws it."""
        covered = self._coverage.text
        # Most lines: no emoji at all, and every character in the text font.
        if self._coverage.prefers_emoji.isdisjoint(map(ord, text)) and (covered is None or covered.issuperset(map(ord, text))):
            yield text, _Face.TEXT
            return
        for face, clusters in itertools.groupby(graphemes(text), self._face):
            yield "".join(clusters), face

    def _face(self, grapheme: str) -> _Face:
        if self._wants_emoji(grapheme):
            return _Face.EMOJI
        if self._fallback is not None and self._coverage.text is not None and ord(grapheme[0]) not in self._coverage.text:
            return _Face.FALLBACK
        return _Face.TEXT

    def _font(self, face: _Face) -> ImageFont.FreeTypeFont:
        match face:
            case _Face.EMOJI:
                return self._emoji
            case _Face.FALLBACK if self._fallback is not None:
                return self._fallback
            case _:
                return self._text

    def _piece_length(self, piece: str, face: _Face) -> float:
        if face is not _Face.EMOJI:
            return self._font(face).getlength(piece)
        # Emoji runs are short and recur in every line a slide's wrap tries; each measurement is
        # a shaping pass (~0.1 ms), so each run is measured once.
        if piece not in self._emoji_lengths:
            self._emoji_lengths[piece] = self._emoji.getlength(piece)
        return self._emoji_lengths[piece]

    def _wants_emoji(self, grapheme: str) -> bool:
        return ord(grapheme[0]) in self._coverage.emoji and not self._coverage.prefers_emoji.isdisjoint(map(ord, grapheme))
