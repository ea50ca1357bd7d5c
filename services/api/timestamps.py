"""SPEC §2: timestamps are ISO 8601 UTC with `Z`."""

from datetime import UTC, datetime
from typing import overload


@overload
def iso_utc(moment: datetime) -> str: ...
@overload
def iso_utc(moment: datetime | None) -> str | None: ...
def iso_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
