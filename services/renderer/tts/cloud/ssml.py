"""Pieces of SSML both providers read."""

import re
from xml.sax.saxutils import escape

SENTENCE_BREAK = '<break time="300ms"/>'
"""Ends every sentence: each is synthesized on its own, and without it one would run into the next."""

_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry at all (control characters, lone surrogates)."""


def xml_text(text: str) -> str:
    """`text` as SSML character data: markup characters escaped, characters XML forbids dropped,
    so what a script says (`<`, `&`, a stray control character) is spoken, never parsed."""
    return escape(_NOT_XML.sub("", text))


def prosody_rate(rate: float) -> str:
    """SSML's relative rate for `rate` times the voice's own pace: 1.25 -> "+25%"."""
    return f"{round((rate - 1) * 100):+d}%"
