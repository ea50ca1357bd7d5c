"""Burned-in captions (SPEC §8.2): the subtitle cues drawn over the slides, the spoken word
marked when the script asks for it.

The cues are the ones subtitles.vtt carries (at most two lines, broken only between words), so
the picture and the file agree. Each caption is drawn once, on a dark box in the lower part of
the central 90 % of the frame, in the slide fonts (Hangul, Latin, colour emoji), smaller when a
line would not fit. A frame too narrow for a line at a readable size (9:16, where a subtitle
line of 32 Hangul would shrink to 3 % of the width) breaks that line in two between its words.
The video stays variable frame rate: a frame where the caption changes (a cue starts or ends;
with the highlight, a word starts), and only the box's rows are converted to YUV for it, pasted
over the slide's frame converted once.
"""

import bisect
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import av
from PIL import Image, ImageDraw

from services.renderer.fonts import BOLD, FontBook
from services.renderer.line_breaks import balanced_cut, span, split_at
from services.renderer.mixed_font import MixedFont
from services.renderer.subtitles import Cue
from services.renderer.words import caption_words
from services.renderer.yuv import Overlay, Planes

SAFE_AREA = 0.9
"""Captions stay inside the central 90 % of the frame's width and height."""
TEXT_SIZE = 0.05
"""Caption text size as a fraction of the smaller side, before shrinking to fit."""
READABLE_SIZE = 0.04
"""The smallest size a cue's own lines shrink to, as a fraction of the smaller side; below it
a line that has words to break between is drawn as two rows instead. A 16:9 frame fits every
subtitle line above it, so its captions keep the file's lines."""
MIN_TEXT_PX = 8
LINE_SPACING = 1.25
PADDING = 0.35
"""Box space around the text, as a fraction of the text size."""
BOTTOM_GAP = 0.03
"""Between the box and the safe area's bottom edge, as a fraction of the height."""
TEXT_COLOUR, SPOKEN_COLOUR = "#ffffff", "#ffd54a"
INK_REFERENCE = "가"
BOX_COLOUR = (0, 0, 0, 170)
"""Dark enough for white text over any slide or picture, light enough to show what is under it."""


@dataclass(frozen=True)
class Caption:
    """What is on screen from `start` to `end` seconds."""

    start: float
    end: float
    lines: tuple[str, ...]
    spoken: tuple[int, int, int] | None = None
    """(line, first character, end character) of the word being spoken, when it is marked."""


def captions_on_screen(cues: list[Cue], highlight: bool) -> list[Caption]:
    """One caption per cue, or with `highlight` one per word of each cue (its word marked)."""
    captions = []
    for cue in cues:
        lines = tuple(cue.lines)
        if not highlight:
            captions.append(Caption(cue.start_ms / 1000, cue.end_ms / 1000, lines))
            continue
        first = (0, len(lines[0]) - len(lines[0].lstrip()), cue.start_ms)
        marks = [first, *cue.word_starts]
        for number, (line, offset, ms) in enumerate(marks):
            following = marks[number + 1] if number + 1 < len(marks) else None
            end_ms = following[2] if following else cue.end_ms
            word_end = following[1] if following and following[0] == line else len(lines[line])
            word_end = offset + len(lines[line][offset:word_end].rstrip())
            captions.append(Caption(ms / 1000, end_ms / 1000, lines, (line, offset, word_end)))
    return captions


@dataclass(frozen=True)
class CaptionBox:
    """A caption drawn: its cue's box, the word marked in it if any, and where the box's
    top-left goes in the frame (even coordinates and sizes, so YUV 4:2:0 planes paste whole)."""

    cue: "_DrawnCue"
    spoken: tuple[int, int, int] | None
    position: tuple[int, int]

    @property
    def picture(self) -> Image.Image:
        return self.cue.box(TEXT_COLOUR) if self.spoken is None else self.cue.with_spoken(self.spoken)

    @functools.cached_property
    def overlay(self) -> Overlay:
        """The caption to lay over frames that change under it (a transition's)."""
        return Overlay(self.picture, self.position)


@dataclass(frozen=True)
class _Row:
    """A row drawn in the box: a cue line, or one of the two parts a line is broken into."""

    line: int
    first: int
    """Where its text starts in its cue line."""
    text: str


class _DrawnCue:
    """A cue's rows placed in their box, and the box drawn in each colour asked for so far."""

    def __init__(self, lines: tuple[str, ...], rows: list[_Row], font: MixedFont) -> None:
        self.lines, self.rows, self.font = lines, rows, font
        padding = round(font.size * PADDING)
        self.line_height = round(font.size * LINE_SPACING)
        lengths = [font.length(row.text) for row in rows]
        self.size = (_even_up(max(lengths) + 2 * padding), _even_up(self.line_height * len(rows) + 2 * padding))
        self.placed = [
            (row.text, round((self.size[0] - length) / 2), padding + number * self.line_height)
            for number, (row, length) in enumerate(zip(rows, lengths))
        ]
        """(text, left, top) of each row in the box."""
        self._boxes: dict[str, Image.Image] = {}

    def box(self, colour: str) -> Image.Image:
        if colour not in self._boxes:
            box = Image.new("RGBA", self.size, BOX_COLOUR)
            draw = ImageDraw.Draw(box)
            # Hangul fills the em box more than Latin does: its ink is what is centred in a line.
            _, ink_top, _, ink_bottom = self.font.bbox(INK_REFERENCE)
            offset = round((self.line_height - (ink_bottom - ink_top)) / 2 - ink_top)
            for text, left, top in self.placed:
                self.font.draw(draw, (left, top + offset), text, colour)
            self._boxes[colour] = box
        return self._boxes[colour]

    def spoken_columns(self, spoken: tuple[int, int, int]) -> tuple[int, int, int, int]:
        """The part of the box (left, top, right, bottom; even) where one word of a line is drawn."""
        line, start, end = spoken
        # The line's last row starting at or before the word: rows break between words only.
        of_line = [number for number, row in enumerate(self.rows) if row.line == line]
        number = max((number for number in of_line if self.rows[number].first <= start), default=of_line[0])
        first = self.rows[number].first
        text, left, top = self.placed[number]
        x0, x1 = (left + self.font.length(text[: max(0, index - first)]) for index in (start, end))
        return _even(x0), _even(top), _even_up(x1), _even_up(top + self.line_height)

    def with_spoken(self, spoken: tuple[int, int, int]) -> Image.Image:
        """The white box with one word's columns of its line from the spoken-colour box."""
        columns = self.spoken_columns(spoken)
        box = self.box(TEXT_COLOUR).copy()
        box.paste(self.box(SPOKEN_COLOUR).crop(columns), columns[:2])
        return box


class CaptionPainter:
    """Draws captions for one frame size; a job's own FontBook (FreeType faces are not shared).

    A cue's text is drawn twice at most, white and in the spoken colour; marking a word copies
    its columns of its line from the second onto the first, so a cue of twenty words is not
    drawn twenty times."""

    def __init__(self, size: tuple[int, int], fonts: FontBook) -> None:
        self._size = size
        self._fonts = fonts
        self._cue: _DrawnCue | None = None
        """The last cue drawn: its captions come one after another."""

    def paint(self, caption: Caption) -> CaptionBox:
        if self._cue is None or self._cue.lines != caption.lines:
            self._cue = self._drawn(caption.lines)
        cue = self._cue
        width, height = self._size
        safe_bottom = height * (1 + SAFE_AREA) / 2
        top = _even(safe_bottom - height * BOTTOM_GAP - cue.size[1])
        return CaptionBox(cue, caption.spoken, (_even((width - cue.size[0]) / 2), top))

    def _drawn(self, lines: tuple[str, ...]) -> _DrawnCue:
        """The cue's own lines at the largest readable size that fits; else its lines broken in
        two at the largest readable size that fits; else its own lines as small as it takes."""
        short_side = min(self._size)
        largest = max(MIN_TEXT_PX, round(short_side * TEXT_SIZE))
        readable = max(MIN_TEXT_PX, round(short_side * READABLE_SIZE))
        whole = [_Row(number, 0, line) for number, line in enumerate(lines)]
        readable_sizes = range(largest, readable - 1, -1)
        return (
            self._largest_fitting(lines, readable_sizes, lambda font: whole)
            or self._largest_fitting(lines, readable_sizes, lambda font: self._broken(lines, font))
            or self._largest_fitting(lines, range(readable - 1, MIN_TEXT_PX, -1), lambda font: whole)
            or _DrawnCue(lines, whole, self._fonts.mixed(MIN_TEXT_PX, BOLD))
        )

    def _largest_fitting(
        self, lines: tuple[str, ...], sizes: range, rows_at: Callable[[MixedFont], list[_Row] | None]
    ) -> _DrawnCue | None:
        """The cue at the first of `sizes` (largest first) whose rows fit the safe width, or None."""
        for px in sizes:
            font = self._fonts.mixed(px, BOLD)
            rows = rows_at(font)
            if rows is not None and max(font.length(row.text) for row in rows) + 2 * px * PADDING <= self._size[0] * SAFE_AREA:
                return _DrawnCue(lines, rows, font)
        return None

    def _broken(self, lines: tuple[str, ...], font: MixedFont) -> list[_Row] | None:
        """Each line on one row if it fits, else on two broken between its words; None when a
        line cannot be (one word too wide, or no words to break between)."""
        room = self._size[0] * SAFE_AREA - 2 * font.size * PADDING
        rows = []
        for number, line in enumerate(lines):
            words = caption_words(line)
            cut = balanced_cut(line, words, font.length, room) if words else None
            if cut is None:
                return None
            rows += [_Row(number, part[0].start, span(line, part)) for part in split_at(words, cut)]
        return rows


class BurnIn:
    """A video's captions, each drawn when the frames reach it."""

    def __init__(self, captions: list[Caption], painter: CaptionPainter) -> None:
        self._captions = captions
        self._painter = painter
        self._drawn: tuple[int, CaptionBox] | None = None
        """The last caption drawn: a constant-rate video shows it on many frames in a row."""

    def changes(self) -> list[float]:
        """When the picture changes: each caption's start, and its end where none follows at once."""
        times = set()
        for caption, following in zip(self._captions, [*self._captions[1:], None]):
            times.add(caption.start)
            if following is None or following.start != caption.end:
                times.add(caption.end)
        return sorted(times)

    def at(self, seconds: float) -> tuple[int, CaptionBox] | None:
        """The caption on screen at `seconds` (its index, and it drawn), or None."""
        index = bisect.bisect_right(self._captions, seconds, key=lambda caption: caption.start) - 1
        if index < 0 or seconds >= self._captions[index].end:
            return None
        if self._drawn is None or self._drawn[0] != index:
            self._drawn = (index, self._painter.paint(self._captions[index]))
        return self._drawn


def burned(picture: Image.Image, box: CaptionBox) -> Image.Image:
    """The slide picture with the caption box over it."""
    framed = picture.convert("RGB")
    framed.paste(box.picture, box.position, box.picture)
    return framed


class StillFrame:
    """A still slide's frame in YUV 4:2:0, converted once. A cue's box over it is converted once
    in each colour (only the box's rows), and a marked word is its columns of the second."""

    def __init__(self, picture: Image.Image) -> None:
        self._picture = picture
        self._planes = Planes.of(picture)
        self._cue: tuple[_DrawnCue, dict[str, Planes]] | None = None

    @property
    def planes(self) -> Planes:
        """The slide without captions, as a transition blends it with its neighbour."""
        return self._planes

    def plain(self) -> av.VideoFrame:
        return self._planes.frame()

    def with_caption(self, box: CaptionBox) -> av.VideoFrame:
        planes = self._planes.copy()
        planes.paste(self._box_planes(box, TEXT_COLOUR), box.position)
        if box.spoken is not None:
            x0, y0, x1, y1 = box.cue.spoken_columns(box.spoken)
            left, top = box.position
            planes.paste(self._box_planes(box, SPOKEN_COLOUR), (left + x0, top + y0), (x0, y0, x1, y1))
        return planes.frame()

    def _box_planes(self, box: CaptionBox, colour: str) -> Planes:
        if self._cue is None or self._cue[0] is not box.cue:
            self._cue = (box.cue, {})
        converted = self._cue[1]
        if colour not in converted:
            left, top = box.position
            width, height = box.cue.size
            drawn = box.cue.box(colour)
            region = self._picture.crop((left, top, left + width, top + height)).convert("RGB")
            region.paste(drawn, (0, 0), drawn)
            converted[colour] = Planes.of(region)
        return converted[colour]


def _even(value: float) -> int:
    return int(value) // 2 * 2


def _even_up(value: float) -> int:
    return -(-math.ceil(value) // 2) * 2
