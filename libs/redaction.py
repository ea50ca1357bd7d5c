"""Credentials masked out of text before it is written to a log.

A progress WebSocket URL carries `?token=<JWT>` (or a browser's short-lived `?ticket=`), a
signed asset URL `&sig=`, a Google API URL `?key=`, and a webhook URL may carry a password;
the log keeps the rest of each line, so a reader still sees which request it was. The
project's Authorization headers only ever carry JWTs, which are masked wherever they appear.
The value classes stop at quotes and backslashes, so masking a JSON line never eats the
escape of the quote after a value.
"""

import re

MASK = "***"

_CREDENTIAL = re.compile(
    r"(?P<parameter>[?&](?:token|ticket|sig|key)=)[^&#\s\"'\\]+"
    r"|(?P<user>://[^/\s:@\"'\\]+:)[^/\s@\"'\\]+(?=@)"
    # A JWT anywhere else: an Authorization or WebSocket subprotocol header, an error's text.
    r"|eyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every credential's value replaced by MASK, its name kept."""
    return _CREDENTIAL.sub(lambda found: (found["parameter"] or found["user"] or "") + MASK, text)
