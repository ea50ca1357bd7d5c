"""Text to what Supertonic reads: one id per character, from the model's unicode_indexer.json.

Supertonic reads characters, not phonemes. NFKD turns each Hangul syllable into the conjoining
jamo the model was trained on (so no Korean G2P is needed), and full-width or compatibility
forms into plain ones. The multilingual model learns the language from tags around the text:
`<ko>…</ko>`.
"""

import re
import unicodedata

UNSUPPORTED = -1
"""The indexer's id for a character the model never saw."""

_SILENT_CATEGORIES = {"So", "Sk", "Cc", "Cf", "Cs", "Co", "Cn"}
"""Emoji and other pictographs, modifier marks, control and format characters (zero-width
joiners, variation selectors): nothing to say, and the model has no ids for them."""
_TYPOGRAPHY = str.maketrans({
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "_": " ", "|": " ", "/": " ", "#": " ", "[": "(", "]": ")",
})  # fmt: skip
"""Typographic punctuation as the plain forms the model's training text used; separators it
would otherwise read aloud or stumble on become spaces."""
_WHITESPACE = re.compile(r"\s+")
_FINAL_PUNCTUATION = tuple(".!?;:,'\")…")


def normalized(text: str) -> str:
    """`text` as the characters the model reads, before language tags."""
    text = unicodedata.normalize("NFKD", text).translate(_TYPOGRAPHY)
    text = "".join(char for char in text if unicodedata.category(char) not in _SILENT_CATEGORIES or char.isspace())
    return _WHITESPACE.sub(" ", text).strip()


def spoken_form(sentence: str, language: str) -> str:
    """The whole input of one sentence: normalized, ended with punctuation (a sentence without
    it trails off rather than ending), between its language's tags."""
    text = normalized(sentence)
    if text and not text.endswith(_FINAL_PUNCTUATION):
        text += "."
    return f"<{language}>{text}</{language}>"


class CharacterIndex:
    """The model's unicode_indexer.json: entry `n` is the id of the character with code point
    `n`, UNSUPPORTED for characters it cannot say; code points past its end are unsupported too."""

    def __init__(self, ids: list[int]) -> None:
        self._ids = ids

    def can_say(self, char: str) -> bool:
        code = ord(char)
        return code < len(self._ids) and self._ids[code] != UNSUPPORTED

    def ids(self, text: str) -> list[int]:
        """The ids of `text` (as spoken_form made it); raises ValueError naming a character it lacks."""
        missing = [char for char in text if not self.can_say(char)]
        if missing:
            raise ValueError(f"the model cannot say {''.join(dict.fromkeys(missing))!r}")
        return [self._ids[ord(char)] for char in text]

    def unsayable(self, sentences: list[str]) -> list[str]:
        """Characters of `sentences`, as written, that the model cannot say, in order of appearance."""
        found: dict[str, None] = {}
        for sentence in sentences:
            for char in dict.fromkeys(sentence):
                if char not in found and not all(self.can_say(part) for part in normalized(char)):
                    found[char] = None
        return list(found)


MAX_CHARACTERS = {"ko": 120}
"""Longest text the model is given at once, by language (the upstream SDK's limits: its quality
drops on longer inputs, Korean's sooner); MAX_CHARACTERS_DEFAULT for the others."""
MAX_CHARACTERS_DEFAULT = 300
_CLAUSE_END = re.compile(r"(?<=[,;:)])\s+")


def pieces(sentence: str, language: str) -> list[str]:
    """`sentence` in parts no longer than its language's limit: at clause ends where they
    suffice, else between words; a single longer word stays whole."""
    limit = MAX_CHARACTERS.get(language, MAX_CHARACTERS_DEFAULT)
    if len(sentence) <= limit:
        return [sentence]
    parts: list[str] = []
    for clause in _CLAUSE_END.split(sentence):
        for word in clause.split() if len(clause) > limit else [clause]:
            if parts and len(parts[-1]) + 1 + len(word) <= limit:
                parts[-1] += " " + word
            else:
                parts.append(word)
    return parts
