"""Structural segmentation: Foote novelty on a bar-level self-similarity matrix.

Features per beat (timbre MFCC, chroma, loudness, percussive share) are z-scored and compared with
cosine similarity; a Gaussian-tapered checkerboard kernel slid along the diagonal gives a novelty
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


def novelty_curve(features: np.ndarray, *, kernel: int = 16) -> np.ndarray:
    """Novelty ``[N]`` from per-beat features ``[D, N]`` (z-scored inside)."""
    x = features - features.mean(axis=1, keepdims=True)
    x /= x.std(axis=1, keepdims=True) + 1e-9
    x /= np.linalg.norm(x, axis=0, keepdims=True) + 1e-9
    ssm = x.T @ x
    n = ssm.shape[0]
    k = checkerboard(kernel)
    half = kernel // 2
    padded = np.pad(ssm, half, mode="edge")
    nov = np.array([np.sum(padded[i : i + kernel, i : i + kernel] * k) for i in range(n)])
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
) -> list[tuple[float, float, str]]:
    """Sections ``(start, end, label)`` covering ``[0, duration]``.

    ``beat_features`` is ``[D, N]`` for the ``N`` beats at ``beat_times``; ``energy`` ``[N]`` is
    the per-beat loudness used for naming. Labels read e.g. ``"drop (B)"``.
    """
    n = beat_features.shape[1]
    if n < 4 * beats_per_bar:
        return [(0.0, float(duration), "intro (A)")]
    kernel = min(8 * beats_per_bar, max(4, n // 4) // 2 * 2)
    nov = novelty_curve(beat_features, kernel=kernel)
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
    means = np.stack([beat_features[:, a:b].mean(axis=1) for a, b in sections_idx])
    letters = cluster_labels(means)
    names = name_sections([float(energy[a:b].mean()) if b > a else 0.0 for a, b in sections_idx])
    return [
        (a, b, f"{name} ({letter})")
        for (a, b), name, letter in zip(
            zip(bounds[:-1], bounds[1:], strict=False), names, letters, strict=False
        )
    ]
