"""When a failed webhook delivery is tried again, and when it is given up."""

import random
from datetime import datetime, timedelta

MAX_DELAY_SEC = 3600.0
DELIVERY_WINDOW = timedelta(hours=24)
JITTER = 0.2


def next_attempt_at(
    created_at: datetime,
    failed_attempts: int,
    now: datetime,
    base_sec: float,
    window: timedelta = DELIVERY_WINDOW,
    rng: random.Random = random._inst,
) -> datetime | None:
    """base, 2×base, 4×base … (capped at an hour, each ±20 % so a receiver coming back is not
    hit by every event at once) after `failed_attempts` failures; None once the next try would
    fall past `window` from the event's creation: the delivery is dead."""
    delay = min(MAX_DELAY_SEC, base_sec * 2 ** (failed_attempts - 1)) * rng.uniform(1 - JITTER, 1 + JITTER)
    at = now + timedelta(seconds=delay)
    return at if at <= created_at + window else None
