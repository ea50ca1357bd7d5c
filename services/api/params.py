"""Path and query parameter types shared by the controllers."""

from typing import Annotated

import msgspec
from litestar.params import Parameter

from libs.contracts.script import THEME_ID_PATTERN

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""Caller-chosen video and script ids: a safe character set, so they are safe in paths and URLs."""
ID_MAX_LENGTH = 128
JOB_ID_PATTERN = r"^job-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

ResourceId = Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
"""An id inside a request body."""
# Litestar reads path constraints from Parameter, not from msgspec.Meta.
VideoId = Annotated[
    str, Parameter(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN, description="The caller's video id.")
]
ScriptId = Annotated[
    str,
    Parameter(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=ID_PATTERN,
        description="The script id, chosen by the caller or the server.",
    ),
]
JobId = Annotated[str, Parameter(pattern=JOB_ID_PATTERN, description="`job-` + UUID.")]
MediaIdParam = Annotated[
    str, Parameter(pattern=r"^med-[0-9a-f]{32}$", description="`med-` + 32 hex digits of the upload's SHA-256.")
]
ThemeIdParam = Annotated[str, Parameter(pattern=THEME_ID_PATTERN, description="The theme's name: letters, digits, _ and -.")]
Limit = Annotated[int, Parameter(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Parameter(ge=0, le=1_000_000_000, description="Items to skip.")]
