"""Caption lines: a sentence cut into pages of at most two lines, broken only between words
(words.py: a Korean word is never split), the lines of a page as even as the words allow.

Measured by whatever the caller measures (characters for subtitle files, pixels for burned-in
captions). A word too wide for a line on its own is the one thing broken inside, between
graphemes (text.wrap), so nothing is ever cut off.
"""

from collections.abc import Callable

from services.renderer.text import wrap
from services.renderer.words import CaptionWord, caption_words

MAX_LINES = 2

Width = Callable[[str], float]


def caption_pages(text: str, width: Width, limit: float) -> list[list[str]]:
    """Pages of `text` in order, each of one or two lines no wider than `limit`: as many words
    as two lines hold, then the next page."""
    words = caption_words(text)
    pages: list[list[str]] = []
    first = 0
    while first < len(words):
        last = first + 1
        lines = balanced_lines(text, words[first:last], width, limit)
        if lines is None:  # one word wider than a line: broken between its graphemes
            broken = wrap(words[first].text, lambda line: width(line) <= limit)
            pages += [broken[index : index + MAX_LINES] for index in range(0, len(broken), MAX_LINES)]
            first = last
            continue
        while last < len(words) and (more := balanced_lines(text, words[first : last + 1], width, limit)) is not None:
            lines, last = more, last + 1
        pages.append(lines)
        first = last
    return pages


def balanced_lines(text: str, words: list[CaptionWord], width: Width, limit: float) -> list[str] | None:
    """`words` (consecutive words of `text`) on one line if they fit, else on two lines broken
    where the wider of the two is narrowest; None when two lines cannot hold them."""
    cut = balanced_cut(text, words, width, limit)
    if cut is None:
        return None
    return [span(text, part) for part in split_at(words, cut)]


def balanced_cut(text: str, words: list[CaptionWord], width: Width, limit: float) -> int | None:
    """Where balanced_lines breaks `words`: 0 when they fit on one line, else the index of the
    first word of the second line; None when two lines cannot hold them."""
    if width(span(text, words)) <= limit:
        return 0
    best: tuple[float, int] | None = None
    for cut in range(1, len(words)):
        wider = max(width(span(text, words[:cut])), width(span(text, words[cut:])))
        if wider <= limit and (best is None or wider < best[0]):
            best = (wider, cut)
    return best[1] if best else None


def split_at(words: list[CaptionWord], cut: int) -> list[list[CaptionWord]]:
    """The words of each line, for a balanced_cut of `cut`."""
    return [words[:cut], words[cut:]] if cut else [words]


def span(text: str, words: list[CaptionWord]) -> str:
    """The words as the text writes them, spaces between them kept (a line break drops its own)."""
    return " ".join(text[words[0].start : words[-1].end].split())
