"""Structural segmentation: Foote novelty on a beat-level self-similarity matrix, and chord-cycle
changes.

Features per beat in groups (timbre MFCC, chroma, loudness, low-band onsets) are z-scored, weighted
per group (:func:`feature_groups`) and compared with cosine similarity; a Gaussian-tapered
checkerboard kernel slid along the diagonal gives a novelty curve whose peaks (at least 4 bars
and :data:`MIN_SECTION_S` apart) are the boundaries. A change of harmony alone (a modulation, a new progression at the same level
and timbre) moves that curve little, so the beat chroma is also tested on its own
(:func:`cycle_change`): where a chord cycle (2, 4 or 8 bars, :func:`cycle_lag`) repeats on both
sides of a beat but not across it, that beat is a boundary, and it replaces the novelty's
boundaries within 4 bars of it.
Boundaries are snapped to the nearest downbeat. Segments are labelled by clustering their mean
features (A, B, C, …) and named by energy (intro / build / drop / breakdown / outro) so presets
can react to "the drop".
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


MIN_SECTION_S = 7.0  # s: shorter inner sections are not scene changes worth a cut


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


def lag_distance(chroma: np.ndarray, *, lag: int) -> np.ndarray:
    """Mean chroma distance ``[N]`` across each beat at a lag: at beat ``b``, the mean over the
    ``lag`` beat pairs ``(j, j + lag)`` with ``j`` in ``[b - lag, b)`` of ``1 - cos`` between
    their chroma ``[12, N]`` (each pitch class z-scored over the track, so the pitch classes that
    set keys apart count, not the ones every chord shares); 0 where a pair would fall outside.

    Where the harmony repeats with period ``lag`` (or a divisor of it) the pairs are the same
    chords and the distance is near 0; where one cycle gives way to another they differ."""
    c = np.asarray(chroma, dtype=np.float64)
    n = c.shape[1]
    out = np.zeros(n)
    if lag < 1 or n < 2 * lag + 1:
        return out
    c = c - c.mean(axis=1, keepdims=True)
    c /= c.std(axis=1, keepdims=True) + 1e-9
    c /= np.linalg.norm(c, axis=0, keepdims=True) + 1e-9
    pair = 1.0 - np.sum(c[:, :-lag] * c[:, lag:], axis=0)  # [N - lag]: beat j against j + lag
    sums = np.r_[0.0, np.cumsum(pair)]
    b = np.arange(lag, n - lag + 1)
    out[b] = (sums[b] - sums[b - lag]) / lag
    return out


def cycle_change(chroma: np.ndarray, *, lag: int) -> np.ndarray:
    """Chord-cycle change ``[N]`` at each beat from chroma ``[12, N]``: :func:`lag_distance`
    across the beat minus the larger of the same distance one ``lag`` earlier and one later
    (inside the sections on either side). High only where the harmony repeats with period
    ``lag`` before the beat and after it but not across it; 0 within ``2 · lag`` of the ends."""
    dist = lag_distance(chroma, lag=lag)
    out = np.zeros(len(dist))
    b = np.arange(2 * lag, len(dist) - 2 * lag + 1) if lag >= 1 else np.zeros(0, dtype=int)
    out[b] = dist[b] - np.maximum(dist[b - lag], dist[b + lag])
    return out


def cycle_lag(chroma: np.ndarray, *, beats_per_bar: int, bars: tuple[int, ...] = (2, 4, 8),
              tolerance: float = 0.1) -> int:  # fmt: skip
    """The chord cycle's length in beats from chroma ``[12, N]``: the shortest of ``bars`` bars
    at which the harmony repeats about as well as at the best of them (the lower quartile of
    :func:`lag_distance`, where a cycle repeats, within ``tolerance`` of the lowest).

    Chosen from the music, not fixed at 4 bars, because progressions of 8 bars exist and a
    tracker that doubles the tempo halves the bars: a 4-bar cycle at 90 bpm tracked at 180 bpm
    repeats every 8 of the tracker's bars."""
    n = np.asarray(chroma).shape[1]
    quartiles = {}
    for count in bars:
        lag = count * beats_per_bar
        if n >= 2 * lag + 1:
            quartiles[lag] = float(
                np.percentile(lag_distance(chroma, lag=lag)[lag : n - lag + 1], 25)
            )
    if not quartiles:
        return bars[0] * beats_per_bar
    best = min(quartiles.values())
    return min(lag for lag, q in quartiles.items() if q <= best + tolerance)


def harmonic_boundaries(chroma: np.ndarray, *, lag: int, threshold: float = 0.65) -> list[int]:
    """Beats where :func:`cycle_change` of chroma ``[12, N]`` peaks above ``threshold`` (the
    largest within ``lag`` beats either side).

    The default: on the album and the synthetic set of ``benchmarks/sections_accuracy.py`` the
    peaks at true harmony changes score 0.67–1.4 (the cycle repeats within the sections, distance
    ≈ 0.1, and breaks across, ≈ 1); the highest peak more than a bar from one is 0.55."""
    change = cycle_change(chroma, lag=lag)
    return [
        i
        for i in range(len(change))
        if change[i] > threshold and change[i] >= change[max(0, i - lag) : i + lag + 1].max()
    ]


def merge_boundaries(novelty: list[int], harmonic: list[int], *, radius: int) -> list[int]:
    """The novelty's boundary beats with each harmonic one added, replacing those closer than
    ``radius`` beats: a cycle change is placed to the beat, where the novelty of a harmony-only
    change falls a bar or two off (the shared chords at the seam look like either side)."""
    merged = list(novelty)
    for h in harmonic:
        merged = [b for b in merged if abs(b - h) >= radius] + [h]
    return sorted(set(merged))


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
    chroma: np.ndarray | None = None,
) -> list[tuple[float, float, str]]:
    """Sections ``(start, end, label)`` covering ``[0, duration]``.

    ``beat_features`` is ``[D, N]`` for the ``N`` beats at ``beat_times`` (z-scored per row
    inside unless ``standardise=False``: already weighted by :func:`feature_groups`); ``energy``
    ``[N]`` is the per-beat loudness used for naming. Labels read e.g. ``"drop (B)"``; the letters
    cluster the sections' means of ``label_features`` ``[D', N]`` (default: ``beat_features``).
    ``chroma`` ``[12, N]``, the beat chroma, adds the chord-cycle changes
    (:func:`harmonic_boundaries`, cycles of :func:`cycle_lag`); without it only the novelty counts.
    """
    n = beat_features.shape[1]
    if n < 4 * beats_per_bar:
        return [(0.0, float(duration), "intro (A)")]
    kernel = min(8 * beats_per_bar, max(4, n // 4) // 2 * 2)
    nov = novelty_curve(beat_features, kernel=kernel, standardise=standardise)
    # 4 bars, and at least MIN_SECTION_S: a tracker that doubles the tempo halves the bars
    period = float(np.median(np.diff(beat_times))) if n > 1 else 0.5
    gap = max(4 * beats_per_bar, int(np.ceil(MIN_SECTION_S / max(period, 1e-3))))
    idx = pick_boundaries(nov, min_gap=gap)
    if chroma is not None:
        chroma = np.asarray(chroma)
        if chroma.ndim != 2 or chroma.shape[1] != n:
            raise ValueError(f"chroma: shape {chroma.shape}, expected [12, {n}] (one per beat)")
        harmonic = harmonic_boundaries(chroma, lag=cycle_lag(chroma, beats_per_bar=beats_per_bar))
        # a novelty boundary 4 bars away (less a beat of tracker slack) is a section of its own
        idx = merge_boundaries(idx, harmonic, radius=gap - 1)
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
