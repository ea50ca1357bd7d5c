"""How one slide gives way to the next (SPEC §8.3, the script's `"transition"`).

A fade or a slide plays inside the pause that ends a scene and ends exactly where the next scene
starts, so no sound and no subtitle moves. It lasts the script's duration_sec, or the pause when
that is shorter: none after a scene without a pause, none after the last scene, and a cut has
none at all. Its frames (composed at MOTION_FPS, or at the video's constant rate) are blended in
YUV 4:2:0, the encoder's own layout: a still slide is converted once however many frames show it,
a fade frame is one Pillow blend of the packed planes (about 5 ms at 1080p, where blending RGB
and converting the result took 28 ms) and a push two pastes (about 1 ms).
"""

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from libs.contracts.script import Transition, TransitionType
from services.renderer.yuv import Planes

Blend = Callable[[Planes, Planes, float], Planes]
"""(the slide leaving, the slide arriving, how far through the transition 0 to 1) → the frame."""


def transition_seconds(transition: Transition, pauses: Sequence[float]) -> list[float]:
    """For each scene but the last (`pauses`: each scene's, the last one's included), how long
    the transition from its slide to the next lasts; 0: a cut."""
    longest = 0.0 if transition.type == "cut" else transition.duration_sec
    return [min(longest, pause) for pause in pauses[:-1]]


def fade(leaving: Planes, arriving: Planes, fraction: float) -> Planes:
    """A cross-dissolve, linear: the eye reads a dissolve's middle as its middle without easing."""
    blended = Image.blend(Image.fromarray(leaving.packed), Image.fromarray(arriving.packed), fraction)
    return Planes(np.asarray(blended), *leaving.size)


def push(leaving: Planes, arriving: Planes, fraction: float) -> Planes:
    """The arriving slide pushes in from the right edge while the leaving one moves out to the
    left, side by side, easing in and out."""
    width, height = leaving.size
    # Even: the chroma planes have half the columns, and a shift must move them whole.
    shift = round(width * _eased(fraction) / 2) * 2
    frame = arriving.copy()
    frame.paste(leaving, (0, 0), (shift, 0, width, height))
    frame.paste(arriving, (width - shift, 0), (0, 0, shift, height))
    return frame


def _eased(fraction: float) -> float:
    """Smoothstep: starts and stops gently instead of jerking into and out of motion."""
    return fraction * fraction * (3 - 2 * fraction)


BLENDS: dict[TransitionType, Blend] = {"fade": fade, "slide": push}
