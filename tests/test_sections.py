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
from renderer.analysis.structure import feature_groups, novelty_curve

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
