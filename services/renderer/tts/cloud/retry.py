"""When to send a failed request again."""

import email.utils
import random
from datetime import UTC, datetime

BACKOFF_FIRST_SEC = 0.5
BACKOFF_MAX_SEC = 8.0


def backoff_seconds(retry: int) -> float:
    """Delay before retry number `retry` (0-based): exponential, with jitter so the sentences
    of a job, and jobs on other workers, do not all come back at the same instant."""
    ceiling = min(BACKOFF_MAX_SEC, BACKOFF_FIRST_SEC * 2**retry)
    return random.uniform(ceiling / 2, ceiling)


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """What a `Retry-After` header asks for, in seconds: delta-seconds or an HTTP date; None
    when absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
