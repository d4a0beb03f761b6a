"""Section boundaries without markers: the novelty curve's properties, the feature weighting, and
detection against exact ground truth (the album's composer, the synthetic set of
benchmarks/sections_accuracy.py)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from renderer.analysis import analyze_track
from renderer.analysis.structure import (
    MIN_SECTION_S,
    cycle_change,
    cycle_lag,
    feature_groups,
    harmonic_boundaries,
    merge_boundaries,
    novelty_curve,
    segment,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import sections_accuracy  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def _steps(n: int, at: list[int], *, dims: int, rng: np.random.Generator) -> np.ndarray:
    """``[dims, n]`` noise whose mean jumps at each index of ``at``."""
    x = 0.3 * rng.standard_normal((dims, n))
    for k, i in enumerate(at):
        x[:, i:] += rng.standard_normal((dims, 1)) * (1 + k % 2)
    return x


def test_novelty_peaks_at_the_change_not_at_the_ends(rng):
    x = _steps(96, [40], dims=6, rng=rng)
    nov = novelty_curve(x, kernel=32)
    assert nov.shape == (96,) and 0.0 <= nov.min() and nov.max() == pytest.approx(1.0, abs=1e-6)
    assert abs(int(np.argmax(nov)) - 40) <= 1
    # the ends are compared with what exists, not with copies of the first and last beat
    assert nov[:4].max() < 0.3 and nov[-4:].max() < 0.3
    assert nov[0] == 0.0  # nothing before the first beat to compare with


def test_feature_groups_weight_groups_not_rows(rng):
    n = 64
    many = rng.standard_normal((12, n))
    one = np.r_[np.zeros(32), np.ones(32)][None, :] + 0.01 * rng.standard_normal((1, n))
    x = feature_groups([(many, 1.0), (one, 2.0)])
    assert x.shape == (13, n)
    assert np.allclose(x.mean(axis=1), 0.0, atol=1e-9)
    # the one-row group carries twice the 12-row group's share of the squared norm
    share = np.sum(x[12] ** 2) / np.sum(x[:12] ** 2)
    assert share == pytest.approx(4.0, rel=0.05)
    # so its step shows in the novelty although 12 rows of noise do not step
    assert abs(int(np.argmax(novelty_curve(x, kernel=16, standardise=False))) - 32) <= 1


# pitch classes of the triads of i-VI-III-VII in A minor, and the same cycle a tone higher
_A_MINOR = [(9, 0, 4), (5, 9, 0), (0, 4, 7), (7, 11, 2)]
_B_MINOR = [tuple((p + 2) % 12 for p in chord) for chord in _A_MINOR]


def _beat_chroma(bars: list[tuple[int, ...]], rng: np.random.Generator, *, beats: int = 4
                 ) -> np.ndarray:  # fmt: skip
    """``[12, beats · len(bars)]`` beat chroma of one triad per bar, with a little noise."""
    cols = []
    for chord in bars:
        col = np.full(12, 0.05)
        col[list(chord)] = 1.0
        cols += [col] * beats
    return np.abs(np.array(cols).T + 0.05 * rng.standard_normal((12, len(cols))))


def test_a_modulation_is_a_cycle_change_on_its_beat(rng):
    # 12 bars in A minor, 12 a tone up, 12 back: the 4-bar cycle breaks at beats 48 and 96
    bars = _A_MINOR * 3 + _B_MINOR * 3 + _A_MINOR * 3
    chroma = _beat_chroma(bars, rng)
    change = cycle_change(chroma, lag=16)
    assert change.shape == (144,)
    assert harmonic_boundaries(chroma, lag=16) == [48, 96]
    # a triangle one cycle wide either side of each change, flat between
    assert int(np.argmax(change[:72])) == 48 and int(np.argmax(change[72:])) + 72 == 96
    assert change[48] > 0.65 and change[96] > 0.65 and change[65:80].max() < 0.3
    assert np.all(change[:32] == 0.0) and np.all(change[-31:] == 0.0)  # no sections to compare


def test_no_cycle_change_without_a_cycle_or_without_a_change(rng):
    steady = _beat_chroma(_A_MINOR * 9, rng)  # one cycle throughout
    assert harmonic_boundaries(steady, lag=16) == []
    triads = [(r, (r + 4) % 12, (r + 7) % 12) for r in rng.integers(0, 12, 36)]
    free = _beat_chroma(triads, rng)  # a new chord every bar, nothing repeats
    assert harmonic_boundaries(free, lag=16) == []


def test_the_cycle_length_follows_the_music_and_a_doubled_tempo(rng):
    bars = _A_MINOR * 3 + _B_MINOR * 3 + _A_MINOR * 3
    assert cycle_lag(_beat_chroma(bars, rng), beats_per_bar=4) == 16  # a 4-bar cycle
    two_bar = [_A_MINOR[0], _A_MINOR[1]] * 18
    assert cycle_lag(_beat_chroma(two_bar, rng), beats_per_bar=4) == 8
    # a tracker at twice the tempo: 8 beats a bar, the cycle 8 of its "bars" of 4 beats
    doubled = _beat_chroma(_A_MINOR * 6 + _B_MINOR * 6, rng, beats=8)
    assert cycle_lag(doubled, beats_per_bar=4) == 32
    assert harmonic_boundaries(doubled, lag=32) == [192]


def test_cycle_changes_replace_novelty_boundaries_nearby():
    assert merge_boundaries([20, 45, 70], [48], radius=15) == [20, 48, 70]
    assert merge_boundaries([33, 45, 80], [38], radius=15) == [38, 80]
    assert merge_boundaries([10], [], radius=15) == [10]


def test_segment_finds_a_modulation_in_unchanging_features(rng):
    bars = _A_MINOR * 3 + _B_MINOR * 3 + _A_MINOR * 3
    chroma = _beat_chroma(bars, rng)
    beat_times = np.arange(144) * 0.5
    flat = 0.1 * rng.standard_normal((8, 144))  # timbre and level do not change
    kwargs = dict(beat_times=beat_times, downbeats=beat_times[::4], energy=np.full(144, 0.5),
                  duration=72.0)  # fmt: skip
    found = [a for a, _, _ in segment(flat, chroma=chroma, **kwargs)[1:]]
    assert {24.0, 48.0} <= set(found)
    # the noise's own novelty peaks stay, at least 4 bars (8 s) from the modulations
    assert all(t in (24.0, 48.0) or min(abs(t - 24.0), abs(t - 48.0)) >= 8.0 for t in found)
    without = [a for a, _, _ in segment(flat, **kwargs)[1:]]
    assert not {24.0, 48.0} <= set(without)
    with pytest.raises(ValueError, match=r"chroma: shape \(12, 143\)"):
        segment(flat, chroma=chroma[:, 1:], **kwargs)


def test_sections_are_at_least_min_section_s_long_at_any_tempo():
    """Features that change every 2 bars at 180 bpm: 4 bars are 5.3 s there, so without the
    seconds floor the novelty would cut 5.3-s sections; with it none is under MIN_SECTION_S."""
    n, period = 288, 60.0 / 180.0
    blocks = np.repeat(np.arange(n // 8) % 2, 8).astype(float)
    features = np.vstack([blocks, 1.0 - blocks, np.zeros(n)])
    beat_times = np.arange(n) * period
    sections = segment(features, beat_times=beat_times, downbeats=np.array([]),
                       energy=np.full(n, 0.5), duration=n * period)  # fmt: skip
    inner = [b - a for a, b, _ in sections[1:-1]]
    assert len(sections) >= 4 and inner
    assert min(inner) >= MIN_SECTION_S - period


def _detect(wav: Path, starts: list[float]) -> dict[str, float]:
    a = analyze_track(wav, cache_dir=None)
    return sections_accuracy.detection(starts, a.duration, [s.start for s in a.sections[1:]])


@pytest.mark.parametrize(
    ("name", "bpm", "sections", "levelled", "bar"),
    [
        # arrangement and level change together, as in most songs
        ("energy", 120, [("none", "none", "i-VI-III-VII", "pad", 0.35),
                         ("full", "eighths", "i-iv-v-i", "arp", 1.0),
                         ("none", "none", "i-VI-III-VII", "pad", 0.4),
                         ("full", "offbeat", "i-iv-v-i", "arp", 1.0)], False, 1.0),
        # only the bass changes, every section at one RMS
        ("bass", 96, [("full", "none", "i-VI-III-VII", "pad", 1.0),
                      ("full", "eighths", "i-VI-III-VII", "pad", 1.0),
                      ("full", "offbeat", "i-VI-III-VII", "pad", 1.0)], True, 1.0),
    ],
)  # fmt: skip
def test_boundaries_of_synthetic_arrangement_changes(tmp_path, name, bpm, sections, levelled,
                                                     bar):  # fmt: skip
    y, starts = sections_accuracy.synthesise(bpm, 8, sections, seed=5, levelled=levelled)
    wav = tmp_path / f"{name}.wav"
    sf.write(str(wav), y, sections_accuracy.SR)
    scores = _detect(wav, starts)
    assert scores["F@2s"] >= bar, (scores, starts)


def test_a_key_change_alone_is_a_boundary(tmp_path):
    """One progression, voice, groove and level throughout; only the key moves (up a tone, back,
    up a fourth): every modulation is found within 2 s, and nothing else."""
    key = "i-VI-III-VII"
    sections = [("full", "eighths", k, "arp", 1.0)
                for k in (key, f"{key} in B", key, f"{key} in D")]  # fmt: skip
    y, starts = sections_accuracy.synthesise(112, 8, sections, seed=3, levelled=True)
    wav = tmp_path / "key.wav"
    sf.write(str(wav), y, sections_accuracy.SR)
    scores = _detect(wav, starts)
    assert scores["R@2s"] == 1.0 and scores["P@2s"] == 1.0, (scores, starts)


def test_album_sections_are_found_without_its_markers(tmp_path, repo_root):
    """The album's first track, alone in a folder (no tracklist, no markers): at least 4 of the
    composer's 5 section starts are found within 2 s, the intro's end exactly on its bar."""
    entry = json.loads((repo_root / "album" / "tracklist.json").read_text())[0]
    audio = tmp_path / "song.mp3"
    shutil.copy(repo_root / "album" / entry["src"], audio)
    starts = [s["start"] for s in entry["sections"]]
    a = analyze_track(audio, cache_dir=None)
    found = [s.start for s in a.sections[1:]]
    scores = sections_accuracy.detection(starts, a.duration, found)
    assert scores["R@2s"] >= 0.8 and scores["P@2s"] >= 0.8, (found, starts)
    assert min(abs(t - starts[1]) for t in found) < 0.1  # the build starts on its downbeat
