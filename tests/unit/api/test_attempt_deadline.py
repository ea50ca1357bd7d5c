"""An attempt's deadline grows with what it must encode: the narration, and the frames of
constant-rate video, which a zooming picture's scene is even in a variable-rate video."""

import pytest

from libs.contracts.script import MOTION_FPS
from services.api.jobs.retry import render_timeout

BASE, PER_CHAR = 60.0, 0.1


def test_still_scenes_cost_their_narration_once_in_a_variable_rate_video():
    assert render_timeout(1000, 0, None, BASE, PER_CHAR) == pytest.approx(BASE + 100)


def test_a_moving_scene_costs_as_if_drawn_at_the_motion_rate():
    assert render_timeout(0, 1000, None, BASE, PER_CHAR) == pytest.approx(BASE + 100 * MOTION_FPS / 10)


def test_at_a_constant_rate_every_scene_costs_its_frames():
    assert render_timeout(500, 500, 60, BASE, PER_CHAR) == pytest.approx(BASE + 100 * 6)
