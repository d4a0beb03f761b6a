"""renderer/control/accents.py: where the picture kicks, how hard, and how each kick returns."""

from __future__ import annotations

import numpy as np
import pytest

from renderer.control import accents

FPS = 10.0


def impulses(onset, *, beats=(), confidence=None, tempo=0.0, **kw):
    n = len(onset)
    args = {"fps": FPS, "beats": np.asarray(beats, dtype=float), "tempo": tempo,
            "confidence": confidence, "subdivision": 1.0, "beat_pulse": 1.0, "onset_pulse": 1.0,
            "percussive": np.zeros(n), "percussive_gain": 0.0, "threshold": 0.5,
            "offbeat_onsets": 0.25}  # fmt: skip
    return accents.accent_impulses(np.asarray(onset, dtype=float), **{**args, **kw})


def test_beat_weights_ramp_with_confidence():
    beats = np.array([0.0, 1.0, 2.0, 3.0])
    conf = np.array([0.5, 0.6, 0.75, 0.9])
    w = accents.beat_weights(beats, conf, n_frames=31, fps=FPS, threshold=0.5)
    assert w[0] == 0.0 and w[10] == pytest.approx(0.5) and w[20] == w[30] == 1.0
    assert np.all(np.diff(w) >= 0)  # confidence rises, so does the trust
    np.testing.assert_array_equal(accents.beat_weights(beats, None, n_frames=5, fps=FPS,
                                                       threshold=0.5), np.ones(5))  # fmt: skip
    assert not accents.beat_weights(np.array([]), None, n_frames=5, fps=FPS, threshold=0.5).any()
    mismatched = accents.beat_weights(beats, conf[:2], n_frames=5, fps=FPS, threshold=0.5)
    np.testing.assert_array_equal(mismatched, np.ones(5))  # no per-beat confidence: trusted


def test_grid_frames_every_subdivision():
    grid = accents.grid_frames(35, fps=FPS, beats=np.array([]), tempo=60.0, subdivision=1.0)
    np.testing.assert_array_equal(grid, [0, 10, 20, 30])
    half = accents.grid_frames(21, fps=FPS, beats=np.array([]), tempo=60.0, subdivision=0.5)
    np.testing.assert_array_equal(half, [0, 5, 10, 15, 20])
    beats = np.array([0.33, 0.87, 1.41])  # between frames: the frame whose window holds it
    np.testing.assert_array_equal(
        accents.grid_frames(15, fps=FPS, beats=beats, tempo=0.0, subdivision=1.0), [3, 9, 14]
    )
    assert accents.grid_frames(9, fps=FPS, beats=np.array([]), tempo=0.0, subdivision=1.0).size == 0


def test_onset_peaks_keep_the_strong_local_maxima():
    onset = np.zeros(40)
    onset[[5, 6, 7]] = [0.5, 1.0, 0.6]  # one hit spread over three frames: one peak
    onset[9] = 0.3  # weak next to the strong one (< PEAK_SHARE of the local maximum)
    onset[[20, 21]] = 0.8  # a plateau: one peak, its first frame
    onset[35] = 0.2  # alone in its window: a peak however quiet
    peaks = np.flatnonzero(accents.onset_peaks(onset, fps=FPS))
    np.testing.assert_array_equal(peaks, [6, 20, 35])
    assert not accents.onset_peaks(np.zeros(10), fps=FPS).any()


def test_snap_moves_beats_forward_only():
    onset = np.array([0.0, 0.9, 0.2, 0.1, 0.8, 0.0])
    # frame 2 → its next frame is weaker: stays; frame 3 → 4 is stronger: moves; frame 0 → 1
    np.testing.assert_array_equal(
        accents.snap_to_onsets(np.array([0, 2, 3, 5]), onset), [1, 2, 4, 5]
    )


def test_confident_beats_kick_on_the_grid_low_confidence_follows_onsets():
    onset = np.zeros(60)
    onset[[13, 27, 44]] = 0.8  # off the 1-s beat grid
    beats = np.arange(0.0, 6.0, 1.0)
    trusted = impulses(onset, beats=beats, confidence=np.ones(6))
    np.testing.assert_array_equal(np.flatnonzero(trusted), [0, 10, 13, 20, 27, 30, 40, 44, 50])
    np.testing.assert_allclose(trusted[[10, 20]], 1.0)  # beat_pulse, no percussive scaling
    np.testing.assert_allclose(trusted[[13, 27, 44]], 0.25 * 0.8)  # off-beat share × strength
    doubtful = impulses(onset, beats=beats, confidence=np.full(6, 0.2))
    np.testing.assert_array_equal(np.flatnonzero(doubtful), [13, 27, 44])  # no invented grid
    np.testing.assert_allclose(doubtful[[13, 27, 44]], 0.8)  # onset strength → height
    no_grid = impulses(onset, beats=beats, confidence=np.ones(6), use_grid=False)
    np.testing.assert_array_equal(no_grid, doubtful)


def test_beat_height_follows_its_transient():
    onset = np.zeros(40)
    onset[[10, 30]] = [1.0, 0.2]
    out = impulses(onset, beats=[1.0, 2.0, 3.0], percussive_gain=1.0, onset_pulse=0.0)
    assert out[10] == pytest.approx(1.0) and out[30] == pytest.approx(0.2) and out[20] == 0.0


def test_shift_and_decay_response():
    x = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(accents.shift_earlier(x, frames=1), [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(accents.shift_earlier(x, frames=-2), [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(accents.shift_earlier(x, frames=0), x)
    y = accents.decay_response(x, decay_frames=2.0)
    np.testing.assert_allclose(y, [0, 0, 1, np.exp(-0.5), np.exp(-1.0)])
    assert accents.decay_response(np.zeros(0), decay_frames=2.0).size == 0
    level = accents.pulse_level(np.array([1.0, 1.0, 1.0]), decay_frames=5.0)
    assert level.max() == 1.0 and level.min() == 1.0  # the decaying sum is capped at 1


def test_kicks_take_the_directions_in_turn():
    x = np.zeros(30)
    x[[2, 9, 16, 23]] = [1.0, 0.5, 0.25, 1.0]
    k = accents.kick_coefficients(x, decay_frames=3.0, directions=3, seed=4)
    assert k.shape == (30, 3)
    jumps = np.abs(np.diff(np.r_[np.zeros((1, 3)), k], axis=0))
    for frame, direction, height in [(2, 0, 1.0), (9, 1, 0.5), (16, 2, 0.25), (23, 0, 1.0)]:
        assert np.argmax(jumps[frame]) == direction
        assert jumps[frame, direction] == pytest.approx(height, abs=0.01 + np.exp(-7 / 3.0))
    assert np.array_equal(k, accents.kick_coefficients(x, decay_frames=3.0, directions=3, seed=4))
    # between kicks the coefficients only return towards zero
    quiet = np.setdiff1d(np.arange(3, 30), [9, 16, 23])
    assert np.all(np.abs(k[quiet]) <= np.abs(k[quiet - 1]) + 1e-12)


def test_slow_beats_are_split_in_halves():
    assert accents.beat_split(65.0) == 2  # an octave low: felt in halves
    assert accents.beat_split(30.0) == 4
    assert accents.beat_split(accents.MIN_BEAT_BPM) == 1
    assert accents.beat_split(0.0) == 1  # no tempo: nothing to judge
    assert accents.beat_split(65.0, subdivision=2.0) == 2  # every other split beat: 65/min
    assert accents.beat_split(65.0, subdivision=0.5) == 1  # eighths at 130/min: fast enough
    # beats 1 s apart at 60 bpm: a grid point on every beat and halfway between
    out = impulses(np.zeros(40), beats=[0.0, 1.0, 2.0, 3.0], tempo=60.0)
    np.testing.assert_array_equal(np.flatnonzero(out), [0, 5, 10, 15, 20, 25, 30, 35])
    # subdivision counts the split beats: 2 → every tracked beat
    every = impulses(np.zeros(40), beats=[0.0, 1.0, 2.0, 3.0], tempo=60.0, subdivision=2.0)
    np.testing.assert_array_equal(np.flatnonzero(every), [0, 10, 20, 30])
    fast = impulses(np.zeros(40), beats=np.arange(0.0, 4.0, 0.5), tempo=120.0, subdivision=2.0)
    np.testing.assert_array_equal(np.flatnonzero(fast), [0, 10, 20, 30])  # as asked


def test_onset_peaks_one_per_hit_and_a_share_per_frame():
    fps = 25.0  # PEAK_GAP_S spans two frames
    onset = np.zeros(60)
    onset[[10, 12]] = [1.0, 0.9]  # two frames apart: one hit, the larger frame kicks
    onset[[40, 46]] = [1.0, 0.45]  # a soft hit 0.24 s after a loud one
    np.testing.assert_array_equal(np.flatnonzero(accents.onset_peaks(onset, fps=fps)), [10, 40])
    free = accents.onset_peaks(onset, fps=fps, share=accents.FREE_PEAK_SHARE)
    np.testing.assert_array_equal(np.flatnonzero(free), [10, 40, 46])
    share = np.where(np.arange(60) < 44, accents.FREE_PEAK_SHARE, accents.PEAK_SHARE)
    np.testing.assert_array_equal(np.flatnonzero(accents.onset_peaks(onset, fps=fps, share=share)),
                                  [10, 40])  # fmt: skip


def test_without_a_trusted_grid_softer_onsets_kick():
    onset = np.zeros(60)
    onset[[13, 18, 33, 38]] = [1.0, 0.5, 1.0, 0.5]  # loud hits, each with a soft one after it
    beats = np.arange(0.0, 6.0, 1.0)
    trusted = impulses(onset, beats=beats, confidence=np.ones(6), tempo=60.0, subdivision=2.0)
    assert trusted[13] > 0 and trusted[33] > 0 and trusted[18] == trusted[38] == 0.0
    doubtful = impulses(onset, beats=beats, confidence=np.zeros(6), tempo=60.0)
    np.testing.assert_array_equal(np.flatnonzero(doubtful), [13, 18, 33, 38])
    np.testing.assert_allclose(doubtful[[18, 38]], 0.5)  # onset strength → height
