"""How long a retried job waits, and how long one attempt may run."""

import random
from collections.abc import Callable

from libs.contracts.script import MOTION_FPS, Script
from services.api.settings import Settings

BACKOFF_BASE_SEC = 1.0
BACKOFF_JITTER = 0.5


def backoff_delay(failed_attempt: int) -> float:
    """1 s, 2 s, 4 s … after attempts 1, 2, 3 …, each ±50 % so retries of many jobs spread out."""
    base = BACKOFF_BASE_SEC * 2.0 ** (failed_attempt - 1)
    return base * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)


def attempt_timeout(settings: Settings) -> Callable[[Script], float]:
    """The deadline rule with this installation's settings, for the job store."""

    def seconds(script: Script) -> float:
        moving = sum(len(scene.narration) for scene in script.scenes if scene.slide.motion != "none")
        still = sum(len(scene.narration) for scene in script.scenes) - moving
        return render_timeout(
            still, moving, settings.render_fps, settings.render_timeout_base_sec, settings.render_timeout_per_char_sec
        )

    return seconds


def render_timeout(still_chars: int, moving_chars: int, fps: int | None, base_sec: float, per_char_sec: float) -> float:
    """A deadline that grows with the script: synthesis and audio encoding scale with the
    narration, and constant-frame-rate encoding also with the number of frames: every scene's
    at a constant `fps`, else only those whose picture moves (at MOTION_FPS)."""
    return base_sec + per_char_sec * (still_chars * _frame_factor(fps) + moving_chars * _frame_factor(fps or MOTION_FPS))


def _frame_factor(fps: int | None) -> float:
    return max(1.0, fps / 10) if fps else 1.0
