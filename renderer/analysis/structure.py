"""Structural segmentation: Foote novelty on a beat-level self-similarity matrix.

Features per beat in groups (timbre MFCC, chroma, loudness, low-band onsets) are z-scored, weighted
per group (:func:`feature_groups`) and compared with cosine similarity; a Gaussian-tapered checkerboard kernel slid along the diagonal gives a novelty
curve whose peaks (min. 4 bars apart) are the boundaries, snapped to the nearest downbeat.
Segments are labelled by clustering their mean features (A, B, C, …) and named by energy
(intro / build / drop / breakdown / outro) so presets can react to "the drop".
"""

from __future__ import annotations

import numpy as np


def checkerboard(size: int) -> np.ndarray:
    half = size // 2
    sign = np.sign(np.arange(-half, half) + 0.5)
    taper = np.exp(-0.5 * ((np.arange(-half, half) + 0.5) / (0.5 * half)) ** 2)
    return np.outer(sign * taper, sign * taper)


def feature_groups(groups: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """Per-beat features ``[D, N]`` from ``(features [d, N], weight)`` groups: each row z-scored
    over the track, each group scaled by ``weight / √d`` so that a group's weight, not its number
    of rows, sets its share of the similarity (13 MFCC rows would otherwise outvote loudness)."""
    rows = []
    for values, weight in groups:
        x = np.atleast_2d(np.asarray(values, dtype=np.float64))
        x = x - x.mean(axis=1, keepdims=True)
        x /= x.std(axis=1, keepdims=True) + 1e-9
        rows.append(weight * x / np.sqrt(x.shape[0]))
    return np.vstack(rows)


def novelty_curve(features: np.ndarray, *, kernel: int = 16, standardise: bool = True
                  ) -> np.ndarray:  # fmt: skip
    """Novelty ``[N]`` from per-beat features ``[D, N]`` (z-scored per row unless
    ``standardise=False``, e.g. after :func:`feature_groups`), in [0, 1].

    At beat ``i`` the checkerboard compares the ``kernel // 2`` beats before with those after:
    the mean cosine similarity within the two blocks minus the mean across them, each mean over
    the entries that exist, the self-similarity of a beat with itself left out. Near the track's
    ends the missing entries are left out (not padded with copies of the first or last beat,
    which made the ends look like boundaries); with no beats on one side the novelty is 0."""
    x = np.asarray(features, dtype=np.float64)
    if standardise:
        x = x - x.mean(axis=1, keepdims=True)
        x /= x.std(axis=1, keepdims=True) + 1e-9
    x = x / (np.linalg.norm(x, axis=0, keepdims=True) + 1e-9)
    ssm = x.T @ x
    np.fill_diagonal(ssm, np.nan)
    n = ssm.shape[0]
    k = checkerboard(kernel)
    half = kernel // 2
    padded = np.pad(ssm, half, constant_values=np.nan)
    within, across = np.clip(k, 0.0, None), np.clip(-k, 0.0, None)
    nov = np.zeros(n)
    for i in range(n):
        block = padded[i : i + kernel, i : i + kernel]
        valid = ~np.isnan(block)
        w_in, w_out = within * valid, across * valid
        if w_out.sum() <= 0 or w_in.sum() <= 0:  # one side is empty: no comparison
            continue
        values = np.where(valid, block, 0.0)
        nov[i] = np.sum(values * w_in) / w_in.sum() - np.sum(values * w_out) / w_out.sum()
    nov = np.maximum(nov, 0.0)
    return nov / (nov.max() + 1e-9)


def pick_boundaries(novelty: np.ndarray, *, min_gap: int, threshold: float = 0.12) -> list[int]:
    """Indices of novelty peaks above an adaptive threshold, at least ``min_gap`` apart."""
    n = len(novelty)
    candidates = [
        i
        for i in range(1, n - 1)
        if novelty[i] >= novelty[max(0, i - min_gap // 2) : i + min_gap // 2 + 1].max()
        and novelty[i] > threshold + 0.5 * np.median(novelty)
    ]
    chosen: list[int] = []
    for i in sorted(candidates, key=lambda j: -novelty[j]):
        # Inner sections are at least ``min_gap`` long; the first and last at least half that.
        if all(abs(i - c) >= min_gap for c in chosen) and min_gap // 2 <= i <= n - min_gap // 2:
            chosen.append(i)
    return sorted(chosen)


def name_sections(energies: list[float]) -> list[str]:
    """Energy-based names for consecutive sections with mean loudness ``energies`` (0..1)."""
    if not energies:
        return []
    e = np.asarray(energies)
    hi = np.percentile(e, 66)
    names = []
    for i, value in enumerate(e):
        if i == 0 and value < hi:
            names.append("intro")
        elif i == len(e) - 1 and value < hi and len(e) > 1:
            names.append("outro")
        elif value >= hi:
            names.append("drop")
        elif i + 1 < len(e) and e[i + 1] >= hi and value > e[max(0, i - 1)] - 1e-6:
            names.append("build")
        else:
            names.append("breakdown")
    return names


def cluster_labels(means: np.ndarray, *, threshold: float = 0.35) -> list[str]:
    """Letters for segments ``[S, D]``: segments closer than ``threshold`` share a letter."""
    letters: list[str] = []
    reps: list[np.ndarray] = []
    for m in means:
        dists = [np.linalg.norm(m - r) / (np.linalg.norm(r) + 1e-9) for r in reps]
        if dists and min(dists) < threshold:
            letters.append(chr(ord("A") + int(np.argmin(dists))))
        else:
            reps.append(m)
            letters.append(chr(ord("A") + len(reps) - 1))
    return letters


def segment(
    beat_features: np.ndarray,
    *,
    beat_times: np.ndarray,
    downbeats: np.ndarray,
    energy: np.ndarray,
    duration: float,
    beats_per_bar: int = 4,
    standardise: bool = True,
    label_features: np.ndarray | None = None,
) -> list[tuple[float, float, str]]:
    """Sections ``(start, end, label)`` covering ``[0, duration]``.

    ``beat_features`` is ``[D, N]`` for the ``N`` beats at ``beat_times`` (z-scored per row
    inside unless ``standardise=False``: already weighted by :func:`feature_groups`); ``energy``
    ``[N]`` is the per-beat loudness used for naming. Labels read e.g. ``"drop (B)"``; the letters
    cluster the sections' means of ``label_features`` ``[D', N]`` (default: ``beat_features``).
    """
    n = beat_features.shape[1]
    if n < 4 * beats_per_bar:
        return [(0.0, float(duration), "intro (A)")]
    kernel = min(8 * beats_per_bar, max(4, n // 4) // 2 * 2)
    nov = novelty_curve(beat_features, kernel=kernel, standardise=standardise)
    idx = pick_boundaries(nov, min_gap=4 * beats_per_bar)
    times = []
    for i in idx:
        t = beat_times[i]
        if len(downbeats):
            nearest = downbeats[np.argmin(np.abs(downbeats - t))]
            t = nearest if abs(nearest - t) < 2.5 * 60.0 / 100.0 else t
        times.append(float(t))
    bounds = [0.0] + sorted(set(t for t in times if 1.0 < t < duration - 1.0)) + [float(duration)]
    sections_idx = [
        (
            np.searchsorted(beat_times, a),
            max(np.searchsorted(beat_times, b), np.searchsorted(beat_times, a) + 1),
        )
        for a, b in zip(bounds[:-1], bounds[1:], strict=False)
    ]
    labelled = beat_features if label_features is None else label_features
    means = np.stack([labelled[:, a:b].mean(axis=1) for a, b in sections_idx])
    letters = cluster_labels(means)
    names = name_sections([float(energy[a:b].mean()) if b > a else 0.0 for a, b in sections_idx])
    return [
        (a, b, f"{name} ({letter})")
        for (a, b), name, letter in zip(
            zip(bounds[:-1], bounds[1:], strict=False), names, letters, strict=False
        )
    ]
