import threading

import numpy as np
import pytest

from services.renderer.loudness import LIMITER_CEILING_DB, Stopped, at_target_loudness, integrated_loudness
from tests.audio import loudness_lufs, true_peak_dbtp

RATE = 24000


def speech_like(seconds: float, amplitude: float, seed: int = 1) -> np.ndarray:
    """Noise in bursts of a syllable or so with gaps between, peakier than its loudness says:
    what a voice is to a loudness meter and a limiter."""
    rng = np.random.default_rng(seed)
    times = np.arange(round(seconds * RATE)) / RATE
    bursts = (np.sin(2 * np.pi * 3.1 * times) > 0.2).astype(np.float32)
    noise = rng.standard_normal(len(times)).astype(np.float32)
    noise[:: RATE // 7] *= 6  # clicks: the peaks a limiter must hold
    return amplitude * noise * bursts


@pytest.mark.parametrize("amplitude", [0.005, 0.05, 0.4], ids=["whisper", "moderate", "clipping-hot"])
def test_any_level_comes_out_at_minus_16_lufs_and_under_minus_1_dbtp(amplitude):
    levelled = at_target_loudness(speech_like(20, amplitude), RATE)
    # Measured by the tests' own meter, not the one the renderer levelled with.
    assert loudness_lufs(levelled.astype(np.float64), RATE) == pytest.approx(-16, abs=0.5)
    assert true_peak_dbtp(levelled.astype(np.float64), RATE) <= -1
    assert 20 * np.log10(np.abs(levelled).max()) <= LIMITER_CEILING_DB + 1e-3


def test_levelling_moves_no_sample_in_time():
    """The limiter's look-ahead is compensated: the levelled signal lines up with the original
    to the sample (captions follow the words)."""
    signal = speech_like(6, 0.3)
    levelled = at_target_loudness(signal, RATE)
    assert len(levelled) == len(signal)
    window = slice(RATE * 2, RATE * 3)
    lags = range(-300, 301)
    alignment = [float(np.dot(levelled[window], np.roll(signal, lag)[window])) for lag in lags]
    assert lags[int(np.argmax(alignment))] == 0


def test_silence_is_left_alone():
    silence = np.zeros(RATE * 2, np.float32)
    assert integrated_loudness(silence, RATE) <= -70
    assert not at_target_loudness(silence, RATE).any()


@pytest.mark.parametrize("rate", [16_000, 22_050, 24_000, 44_100, 48_000])
def test_the_meter_agrees_with_another_bs1770_meter_at_every_voices_rate(rate):
    signal = speech_like(10, 0.1)
    assert integrated_loudness(signal, rate) == pytest.approx(loudness_lufs(signal.astype(np.float64), rate), abs=0.05)


def test_a_full_scale_997_hz_sine_reads_as_the_standard_says():
    """BS.1770-4's calibration: a 0 dBFS sine at 997 Hz measures -3.01 LKFS."""
    times = np.arange(48_000 * 5) / 48_000
    assert integrated_loudness(np.sin(2 * np.pi * 997 * times).astype(np.float32), 48_000) == pytest.approx(-3.01, abs=0.05)


def test_levelling_stops_when_asked():
    stop = threading.Event()
    stop.set()
    with pytest.raises(Stopped):
        at_target_loudness(speech_like(40, 0.1), RATE, stop)
