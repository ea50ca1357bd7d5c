"""Single byte ranges of one file (RFC 9110 §14): parse `Range`, honour `If-Range`; the asset
store streams the slice.

Litestar's `File` response ignores `Range` (DESIGN §7), and browsers need 206 answers to seek
a <video>, so this is the one piece of file serving written by hand.
"""

import re
from dataclasses import dataclass

from services.api.errors import RangeNotSatisfiable

# One range only: a request for several ranges does not match and gets the whole file with 200,
# which RFC 9110 §14.2 allows (a server MAY ignore Range) and no browser needs otherwise.
_SINGLE_BYTE_RANGE = re.compile(r"bytes=(\d*)-(\d*)", re.ASCII | re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int
    """Inclusive, as `Content-Range` writes it."""

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str, size: int) -> ByteRange | None:
    """The range `header` asks for within a file of `size` bytes, or None to send the whole file.

    Headers that are malformed, use another unit or ask for several ranges are ignored, as
    RFC 9110 §14.2 requires of invalid ones. Raises `RangeNotSatisfiable` when the range lies
    wholly past the end of the file.
    """
    match = _SINGLE_BYTE_RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix_length = int(last)
        if suffix_length == 0 or size == 0:
            raise _unsatisfiable(header, size)
        return ByteRange(start=max(size - suffix_length, 0), end=size - 1)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise _unsatisfiable(header, size)
    end = int(last) if last else size - 1
    return ByteRange(start=start, end=min(end, size - 1))


def if_range_allows_partial(if_range: str | None, etag: str, last_modified: str) -> bool:
    """Whether `If-Range` (if sent) still names the current file, so a partial answer is safe.

    Exact comparison is RFC 9110 §13.1.5's strong comparison: a weak tag never matches our
    strong ETag, and any stale or unfamiliar validator falls back to sending the whole file.
    """
    return if_range is None or if_range.strip() in (etag, last_modified)


def _unsatisfiable(header: str, size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable("Requested range lies outside the file", range=header, size=size)
