import numpy as np
import pytest

from libs.contracts.script import Music
from services.renderer.music import ATTACK_SEC, RELEASE_SEC, MusicUnreadable, bed_gain, decoded_music, looped
from tests.audio import write_tone_file

RATE = 24000
MUSIC = Music(media="med-" + "0" * 32, volume_db=-18, duck_db=-12, fade_sec=1)


def test_music_is_decoded_to_mono_at_the_narrations_rate_and_cut_where_asked(tmp_path):
    write_tone_file(tmp_path / "bed.flac", 3)
    music = decoded_music(tmp_path / "bed.flac", RATE, RATE * 2)
    assert len(music) == RATE * 2
    # Both channels carry the tone in phase: their mono mix keeps it at its level, about 0.5.
    assert 0.3 < np.abs(music[RATE:]).max() < 0.75


def test_music_shorter_than_asked_comes_back_whole(tmp_path):
    write_tone_file(tmp_path / "bed.flac", 1)
    assert len(decoded_music(tmp_path / "bed.flac", RATE, RATE * 5)) == pytest.approx(RATE, abs=RATE // 50)


def test_a_file_that_is_not_audio_is_unreadable_music(tmp_path):
    (tmp_path / "bed.flac").write_bytes(b"fLaC" + bytes(100))
    with pytest.raises(MusicUnreadable):
        decoded_music(tmp_path / "bed.flac", RATE, RATE)


def test_a_loop_covers_the_whole_length_without_a_gap_or_a_jump():
    music = np.full(RATE, 0.5, np.float32)  # a steady level: any seam shows as a dip or a bump
    bed = looped(music, RATE * 3 + 123, RATE)
    assert len(bed) == RATE * 3 + 123
    settled = bed[RATE // 10 :]  # after the first repeat's own fade-in
    assert settled.min() == pytest.approx(0.5, abs=0.02) and settled.max() == pytest.approx(0.5, abs=0.02)


def test_longer_music_is_cut_to_length():
    assert len(looped(np.ones(RATE * 4, np.float32), RATE, RATE)) == RATE


def db(gain: np.ndarray, at: float) -> float:
    return float(20 * np.log10(gain[round(at * RATE)]))


def test_the_bed_ducks_through_speech_and_comes_back_in_the_pauses():
    speech = [(2.0, 4.0), (4.3, 6.0), (9.0, 10.0)]  # the first two, 0.3 s apart, are one stretch
    gain = bed_gain(MUSIC, speech, RATE * 12, RATE)
    assert db(gain, 1.5) == pytest.approx(0, abs=0.01)  # past the fade-in, before the speech
    assert db(gain, 2.0) == pytest.approx(-12, abs=0.01)  # fully down as the first word starts
    assert db(gain, 4.15) == pytest.approx(-12, abs=0.01)  # no bob between close sentences
    assert db(gain, 6.0 + RELEASE_SEC) == pytest.approx(0, abs=0.01)  # back up within the release
    assert db(gain, 2.0 - ATTACK_SEC) == pytest.approx(0, abs=0.01)  # the attack starts no earlier
    assert -12 < db(gain, 2.0 - ATTACK_SEC / 2) < 0
    assert db(gain, 9.5) == pytest.approx(-12, abs=0.01)


def test_the_bed_fades_in_and_out():
    gain = bed_gain(MUSIC, [], RATE * 10, RATE)
    assert gain[0] == 0 and gain[-1] == pytest.approx(0, abs=1e-3)
    assert db(gain, MUSIC.fade_sec) == pytest.approx(0, abs=0.01)
    assert np.all(np.diff(gain[:RATE]) >= 0)  # the fade-in only rises
