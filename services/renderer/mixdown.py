"""The video's soundtrack from its narration: the music bed under it, when the script has one,
and the whole at broadcast loudness (loudness.py), handed to the AAC encoder as float samples.

The bed's `volume_db` is relative to the narration's loudness, not to the music file's full
scale: music is mastered anywhere from -25 to -7 LUFS, and "-18 dB under the voice" should
sound the same whichever track a team picks.
"""

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from libs.contracts.script import Music
from services.renderer.loudness import SILENCE_LUFS, at_target_loudness, integrated_loudness
from services.renderer.music import bed_gain, decoded_music, looped
from services.renderer.narration import Narration


@dataclass(frozen=True)
class MusicBed:
    music: Music
    path: Path
    """The decodable audio file the script's `music.media` names."""


def mix_down(narration: Narration, bed: MusicBed | None, stop: threading.Event) -> np.ndarray:
    """The soundtrack: mono float samples at the narration's rate, as long as the narration to
    the sample; raises loudness.Stopped once `stop` is set."""
    rate = narration.audio.sample_rate
    voice = narration.audio.as_float()
    mix = voice if bed is None else voice + _bed_under(voice, rate, narration, bed, stop)
    return at_target_loudness(mix, rate, stop)


def _bed_under(voice: np.ndarray, rate: int, narration: Narration, bed: MusicBed, stop: threading.Event) -> np.ndarray:
    """The music at `volume_db` under the voice's loudness, ducked and faded, as long as `voice`."""
    music = looped(decoded_music(bed.path, rate, len(voice), stop), len(voice), rate)
    music_loudness = integrated_loudness(music, rate, stop)
    if music_loudness <= SILENCE_LUFS:  # a silent track: nothing to set a level from, nothing to hear
        return np.zeros_like(voice)
    voice_loudness = integrated_loudness(voice, rate, stop)
    level = 10 ** ((voice_loudness + bed.music.volume_db - music_loudness) / 20)
    speech = [(sentence.start, sentence.end) for sentence in narration.sentences]
    return music * np.float32(level) * bed_gain(bed.music, speech, len(voice), rate)
