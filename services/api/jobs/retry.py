"""How long a retried job waits, and how long one attempt may run."""

import random

BACKOFF_BASE_SEC = 1.0
BACKOFF_JITTER = 0.5


def backoff_delay(failed_attempt: int, rng: random.Random = random._inst) -> float:
    """1 s, 2 s, 4 s … after attempts 1, 2, 3 …, each ±50 % so retries of many jobs spread out."""
    base = BACKOFF_BASE_SEC * 2 ** (failed_attempt - 1)
    return base * rng.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)


def render_timeout(narration_chars: int, fps: int | None, base_sec: float, per_char_sec: float) -> float:
    """A deadline that grows with the script: synthesis and audio encoding scale with the
    narration, and constant-frame-rate encoding also with the number of frames."""
    frame_factor = max(1.0, fps / 10) if fps else 1.0
    return base_sec + per_char_sec * narration_chars * frame_factor
