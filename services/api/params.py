"""Path and query parameter types shared by the controllers."""

from typing import Annotated

import msgspec
from litestar.params import Parameter

ResourceId = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
"""Caller-chosen video and script ids: a safe character set, so they are safe in paths and URLs."""
Limit = Annotated[int, Parameter(ge=1, le=100, description="Page size.")]
Offset = Annotated[int, Parameter(ge=0, le=1_000_000_000, description="Items to skip.")]
