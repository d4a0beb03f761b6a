"""Tests for renderer/control/motion.py: the controller's whole-timeline array helpers."""

from __future__ import annotations

import numpy as np
import pytest

from renderer.control import motion

# ----------------------------------------------------------------------------------- name_seed


def _draw(seq: np.random.SeedSequence, n: int = 8) -> np.ndarray:
    return np.random.default_rng(seq).standard_normal(n)


def test_name_seed_is_deterministic():
    np.testing.assert_array_equal(
        _draw(motion.name_seed(7, "drift")), _draw(motion.name_seed(7, "drift"))
    )


def test_name_seed_streams_differ_by_name_and_by_seed():
    base = _draw(motion.name_seed(7, "drift"))
    assert not np.allclose(base, _draw(motion.name_seed(7, "pulse")))
    assert not np.allclose(base, _draw(motion.name_seed(8, "drift")))


def test_name_seed_uses_the_low_32_bits_of_the_seed():
    np.testing.assert_array_equal(
        _draw(motion.name_seed(5, "x")), _draw(motion.name_seed(5 + 2**32, "x"))
    )


# ------------------------------------------------------------------------------------ alpha_at


def test_alpha_at_reference_rate_is_unchanged():
    assert motion.alpha_at(0.9, fps=30) == pytest.approx(0.9)


@pytest.mark.parametrize("fps", [24.0, 60.0, 120.0])
def test_alpha_at_keeps_the_decay_per_second(fps):
    # one second of frames at fps must decay as much as 30 frames at the reference rate
    a = motion.alpha_at(0.8, fps=fps)
    assert a**fps == pytest.approx(0.8**30, rel=1e-9)


def test_alpha_at_higher_rate_smooths_less_per_frame():
    assert motion.alpha_at(0.9, fps=60) == pytest.approx(np.sqrt(0.9))
    assert motion.alpha_at(0.9, fps=15) == pytest.approx(0.81)


# ----------------------------------------------------------------------------------------- ema


def test_ema_step_response():
    alpha = 0.75
    x = np.r_[np.zeros(5), np.ones(10)]
    y = motion.ema(x, alpha=alpha)
    np.testing.assert_allclose(y[:5], 0.0)
    n = np.arange(10)
    np.testing.assert_allclose(y[5:], 1.0 - alpha ** (n + 1))


def test_ema_starts_at_the_first_sample():
    y = motion.ema(np.full(6, 3.5), alpha=0.9)
    np.testing.assert_allclose(y, 3.5)


def test_ema_is_causal():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(40)
    changed = x.copy()
    changed[25:] += 10.0
    y, y2 = motion.ema(x, alpha=0.6), motion.ema(changed, alpha=0.6)
    np.testing.assert_array_equal(y[:25], y2[:25])
    assert not np.allclose(y[25:], y2[25:])


def test_ema_2d_smooths_each_column_independently():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 3))
    y = motion.ema(x, alpha=0.5)
    assert y.shape == (30, 3) and y.dtype == np.float64
    for k in range(3):
        np.testing.assert_allclose(y[:, k], motion.ema(x[:, k], alpha=0.5))
    # the recurrence itself
    np.testing.assert_allclose(y[1:], 0.5 * y[:-1] + 0.5 * x[1:])


def test_ema_alpha_zero_and_empty_are_copies():
    x = np.array([1.0, -2.0, 3.0])
    y = motion.ema(x, alpha=0.0)
    np.testing.assert_array_equal(y, x)
    assert y is not x
    assert motion.ema(np.array([]), alpha=0.5).shape == (0,)


# ------------------------------------------------------------------------------------- softmax


def test_softmax_known_values_and_sum():
    p = motion.softmax(np.array([0.0, np.log(2.0)]))
    np.testing.assert_allclose(p, [1 / 3, 2 / 3])
    q = motion.softmax(np.random.default_rng(2).standard_normal((4, 7)))
    np.testing.assert_allclose(q.sum(axis=-1), 1.0)
    assert np.all(q > 0)


def test_softmax_is_shift_invariant_and_stable():
    logits = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(motion.softmax(logits), motion.softmax(logits + 1000.0))
    big = motion.softmax(np.array([1000.0, 0.0]))
    assert np.all(np.isfinite(big))
    np.testing.assert_allclose(big, [1.0, 0.0], atol=1e-12)


def test_softmax_axis():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    p0 = motion.softmax(logits, axis=0)
    np.testing.assert_allclose(p0.sum(axis=0), 1.0)
    np.testing.assert_allclose(p0[:, 0], [0.25, 0.75])
    np.testing.assert_allclose(p0[:, 1], [0.5, 0.5])


# ------------------------------------------------------------------------------- beat_position


def test_beat_position_on_a_regular_grid():
    times = np.array([0.5, 1.0, 1.5, 3.0, 4.0])
    pos = motion.beat_position(times, beats=np.array([1.0, 2.0, 3.0]), tempo=0.0)
    np.testing.assert_allclose(pos, [-0.5, 0.0, 0.5, 2.0, 3.0])


def test_beat_position_irregular_beats_extrapolate_with_edge_intervals():
    beats = np.array([3.0, 0.0, 1.0, 1.0])  # unsorted, with a duplicate
    pos = motion.beat_position(np.array([-1.0, 0.5, 2.0, 4.0]), beats=beats, tempo=120.0)
    # beats 0,1,3: before the first the 1 s interval, after the last the 2 s interval
    np.testing.assert_allclose(pos, [-1.0, 0.5, 1.5, 2.5])


def test_beat_position_falls_back_to_tempo():
    times = np.array([0.5, 1.0, 2.0])
    one = motion.beat_position(times, beats=np.array([0.5]), tempo=120.0)
    np.testing.assert_allclose(one, [0.0, 1.0, 3.0])
    none = motion.beat_position(times, beats=np.array([]), tempo=60.0)
    np.testing.assert_allclose(none, times)


def test_beat_position_none_without_grid_or_tempo():
    assert motion.beat_position(np.array([1.0]), beats=np.array([]), tempo=0.0) is None
    assert motion.beat_position(np.array([1.0]), beats=np.array([2.0]), tempo=-1.0) is None


# ---------------------------------------------------------------------------------- grid_pulse


def test_grid_pulse_peaks_on_beat_frames_and_decays():
    # 60 bpm from t=0 at 10 fps: grid points on frames 0, 10, 20, 30
    p = motion.grid_pulse(35, fps=10, beats=np.array([]), tempo=60.0, subdivision=1.0, decay=0.5)
    assert p.shape == (35,)
    peaks = np.flatnonzero(np.isclose(p, 1.0))
    np.testing.assert_array_equal(peaks, [0, 10, 20, 30])
    assert np.all((p >= 0.0) & (p <= 1.0))
    # frame 10+k starts Δ = (k - ½)/10 beats after the point (k ≥ 1)
    for k in (1, 5, 9):
        delta = (k - 0.5) / 10
        assert p[10 + k] == pytest.approx(np.exp(-delta / 0.5) * (1 - delta))
    # strictly decreasing between grid points
    assert np.all(np.diff(p[10:20]) < 0)


def test_grid_pulse_subdivision_halves_the_period():
    p = motion.grid_pulse(30, fps=10, beats=np.array([]), tempo=60.0, subdivision=0.5, decay=1.0)
    np.testing.assert_array_equal(np.flatnonzero(np.isclose(p, 1.0)), [0, 5, 10, 15, 20, 25])


def test_grid_pulse_follows_the_beat_grid():
    beats = np.array([0.3, 0.8, 1.3])
    p = motion.grid_pulse(20, fps=10, beats=beats, tempo=0.0, subdivision=1.0, decay=0.25)
    # beats on frames 3, 8, 13; extrapolated at the last interval (0.5 s): 18
    np.testing.assert_array_equal(np.flatnonzero(np.isclose(p, 1.0)), [3, 8, 13, 18])


def test_grid_pulse_zero_without_tempo_or_beats():
    p = motion.grid_pulse(12, fps=30, beats=np.array([]), tempo=0.0, subdivision=1.0, decay=0.5)
    np.testing.assert_array_equal(p, np.zeros(12))


# ------------------------------------------------------------------------------ onset_envelope


def test_onset_envelope_peak_hold_and_decay():
    keep = np.exp(-1.0 / 2.0)
    env = motion.onset_envelope(np.array([0.0, 1.0, 0.0, 0.0, 0.5, 0.0]), decay_frames=2.0)
    np.testing.assert_allclose(env, [0.0, 1.0, keep, keep**2, 0.5, 0.5 * keep])


def test_onset_envelope_clips_input_to_unit_range():
    env = motion.onset_envelope(np.array([-3.0, 4.0, 0.0]), decay_frames=1.0)
    np.testing.assert_allclose(env, [0.0, 1.0, np.exp(-1.0)])


# ----------------------------------------------------------------------------------- local_max


def test_local_max_spreads_a_peak_by_radius():
    x = np.array([0, 0, 0, 1, 0, 0, 0], dtype=float)
    np.testing.assert_array_equal(motion.local_max(x, radius=1), [0, 0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(motion.local_max(x, radius=2), [0, 1, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(motion.local_max(x, radius=0), x)


def test_local_max_at_the_edges():
    np.testing.assert_array_equal(motion.local_max(np.array([1.0, 0.0, 0.0]), radius=1), [1, 1, 0])


# ---------------------------------------------------------------------------------- chord_root


@pytest.mark.parametrize(
    ("label", "pc"),
    [
        ("C", 0),
        ("A:min", 9),
        ("C#", 1),
        ("F#m", 6),
        ("Bb", 10),
        ("Cb", 11),
        ("B#", 0),
        ("e", 4),
        ("G:maj7", 7),
    ],
)
def test_chord_root(label, pc):
    assert motion.chord_root(label) == pc


@pytest.mark.parametrize("label", ["N", "", "X", "H:min", "#"])
def test_chord_root_unknown(label):
    assert motion.chord_root(label) is None


# --------------------------------------------------------------------- hue_from_chroma / inverse


def _onehot(*pcs: int) -> np.ndarray:
    c = np.zeros((1, 12))
    c[0, list(pcs)] = 1.0
    return c


def test_hue_from_chroma_follows_the_circle_of_fifths():
    assert motion.hue_from_chroma(_onehot(0))[0] == pytest.approx(0.0)  # C
    assert motion.hue_from_chroma(_onehot(7))[0] == pytest.approx(1 / 12)  # G: one fifth up
    assert motion.hue_from_chroma(_onehot(2))[0] == pytest.approx(2 / 12)  # D: two fifths
    assert motion.hue_from_chroma(_onehot(5))[0] == pytest.approx(11 / 12)  # F: one fifth down
    assert motion.hue_from_chroma(_onehot(6))[0] == pytest.approx(6 / 12)  # F#: opposite C
    # C and G equally: halfway between them
    assert motion.hue_from_chroma(_onehot(0, 7))[0] == pytest.approx(1 / 24)


def test_hue_from_chroma_shape_and_range():
    chroma = np.random.default_rng(3).random((50, 12))
    hue = motion.hue_from_chroma(chroma)
    assert hue.shape == (50,)
    assert np.all((hue >= 0.0) & (hue < 1.0))


@pytest.mark.parametrize(
    ("deg", "pc"), [(0, 0), (30, 7), (60, 2), (330, 5), (180, 6), (14, 0), (16, 7), (360, 0)]
)
def test_pitch_class_of_hue(deg, pc):
    assert motion.pitch_class_of_hue(deg) == pc


def test_pitch_class_of_hue_inverts_hue_from_chroma():
    for pc in range(12):
        hue = motion.hue_from_chroma(_onehot(pc))[0]
        assert motion.pitch_class_of_hue(hue * 360.0) == pc


# ------------------------------------------------------------------------------- anchor_scores


def test_anchor_scores_zscore_weighting():
    stats = [{"bright": 1.0}, {"bright": 2.0}, {"bright": 3.0}]
    z = np.sqrt(1.5)  # (3 - 2) / population std sqrt(2/3)
    score = motion.anchor_scores(stats, [[], [], []], prefer={"bright": 2.0}, tag_weights={})
    np.testing.assert_allclose(score, [-2 * z, 0.0, 2 * z])
    neg = motion.anchor_scores(stats, [[], [], []], prefer={"bright": -1.0}, tag_weights={})
    assert np.argmax(neg) == 0


def test_anchor_scores_missing_stat_counts_as_mean():
    stats = [{"bright": 1.0}, {}, {"bright": 3.0}]
    score = motion.anchor_scores(stats, [[], [], []], prefer={"bright": 1.0}, tag_weights={})
    np.testing.assert_allclose(score, [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])


def test_anchor_scores_constant_or_absent_stat_adds_nothing():
    stats = [{"a": 5.0}, {"a": 5.0}]
    score = motion.anchor_scores(stats, [[], []], prefer={"a": 3.0, "b": 1.0}, tag_weights={})
    np.testing.assert_array_equal(score, [0.0, 0.0])


def test_anchor_scores_tag_bonuses_add_up():
    tags = [["dark"], [], ["dark", "warm"]]
    score = motion.anchor_scores(
        [{}, {}, {}], tags, prefer={}, tag_weights={"dark": 0.5, "warm": 2.0}
    )
    np.testing.assert_allclose(score, [0.5, 0.0, 2.5])


# ------------------------------------------------------------------------------------ fit_grid


def _anchor(c: int = 3, h: int = 8, w: int = 8, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    means = np.array([0.0, 5.0, -3.0])[:c, None, None]
    stds = np.array([1.0, 2.0, 0.5])[:c, None, None]
    return (means + stds * rng.standard_normal((c, h, w))).astype(np.float32)


def test_fit_grid_wider_grid_keeps_anchor_in_centre_and_its_statistics():
    latent = _anchor()
    out = motion.fit_grid(latent, hw=(32, 64))
    assert out.shape == (3, 32, 64) and out.dtype == np.float32
    top, left = (32 - 8) // 2, (64 - 8) // 2
    np.testing.assert_array_equal(out[:, top : top + 8, left : left + 8], latent)
    mask = np.ones((32, 64), bool)
    mask[top : top + 8, left : left + 8] = False
    for k in range(3):
        fresh = out[k][mask]
        mean, std = latent[k].mean(), latent[k].std()
        assert abs(fresh.mean() - mean) < 0.1 * std
        assert fresh.std() == pytest.approx(std, rel=0.1)


def test_fit_grid_is_deterministic_per_anchor():
    latent = _anchor()
    a = motion.fit_grid(latent, hw=(16, 24))
    np.testing.assert_array_equal(a, motion.fit_grid(latent.copy(), hw=(16, 24)))
    other = motion.fit_grid(_anchor(seed=5), hw=(16, 24))
    assert not np.allclose(a[:, :2, :2], other[:, :2, :2])  # fresh cells depend on the anchor


def test_fit_grid_same_size_is_identity():
    latent = _anchor()
    np.testing.assert_array_equal(motion.fit_grid(latent, hw=(8, 8)), latent)


@pytest.mark.parametrize(
    ("hw", "rows", "cols"), [((4, 4), (2, 6), (2, 6)), ((5, 8), (2, 7), (0, 8))]
)
def test_fit_grid_smaller_grid_is_the_exact_centre_crop(hw, rows, cols):
    latent = _anchor()
    out = motion.fit_grid(latent, hw=hw)
    assert out.shape == (3, *hw)
    np.testing.assert_array_equal(out, latent[:, rows[0] : rows[1], cols[0] : cols[1]])


def test_fit_grid_narrower_but_wider_grid_mixes_crop_and_fill():
    latent = _anchor()
    out = motion.fit_grid(latent, hw=(4, 16))
    assert out.shape == (3, 4, 16)
    np.testing.assert_array_equal(out[:, :, 4:12], latent[:, 2:6, :])


# -------------------------------------------------------------------------- orthonormal_fields


def test_orthonormal_fields_are_orthonormal():
    rows = motion.orthonormal_fields(np.random.default_rng(6), count=5, shape=(3, 4, 4))
    assert rows.shape == (5, 48)
    assert rows.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(rows @ rows.T, np.eye(5), atol=1e-10)


def test_orthonormal_fields_are_seeded():
    a = motion.orthonormal_fields(np.random.default_rng(7), count=3, shape=(10,))
    b = motion.orthonormal_fields(np.random.default_rng(7), count=3, shape=(10,))
    c = motion.orthonormal_fields(np.random.default_rng(8), count=3, shape=(10,))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(np.abs(a), np.abs(c))
