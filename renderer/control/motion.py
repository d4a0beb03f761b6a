"""Pure array helpers of the latent controller: smoothing, beat grid, pulses, anchors, noise.

Every function maps whole-timeline arrays to whole-timeline arrays (``[N]`` per video frame), so
the controller can precompute its control signals once and slice them for any chunk.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

REFERENCE_FPS = 30.0  # smoothing_alpha is specified per frame at this rate
FIFTHS = (
    7 * np.arange(12)
) % 12  # pitch class k sits at position FIFTHS[k] on the circle of fifths
PITCH_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def name_seed(seed: int, name: str) -> np.random.SeedSequence:
    """Independent stream for ``name`` under ``seed`` (randomness derived by name, STYLE 5)."""
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode())])


def alpha_at(alpha: float, *, fps: float) -> float:
    """Per-frame smoothing factor at ``fps`` with the same time constant as ``alpha`` at 30 fps."""
    return float(alpha) ** (REFERENCE_FPS / float(fps))


def ema(x: np.ndarray, *, alpha: float) -> np.ndarray:
    """Causal exponential smoothing along axis 0: ``y[t] = α·y[t-1] + (1-α)·x[t]``, ``y[0] = x[0]``.

    ``x`` is ``[N]`` or ``[N, K]``; returns float64 of the same shape.
    """
    x = np.asarray(x, dtype=np.float64)
    if len(x) == 0 or alpha <= 0.0:
        return x.copy()
    zi = (alpha * x[:1]).reshape((1, *x.shape[1:]))
    y, _ = lfilter([1.0 - alpha], [1.0, -alpha], x, axis=0, zi=zi)
    return y


def softmax(logits: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax; rows sum to one."""
    z = logits - np.max(logits, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def beat_position(times: np.ndarray, *, beats: np.ndarray, tempo: float) -> np.ndarray | None:
    """Beat count at ``times`` (s): 0 at the first beat, linear between beats, extrapolated.

    With fewer than two beats the grid is the constant ``tempo`` (bpm) from the first beat (or
    from 0). ``None`` when there is neither a beat grid nor a tempo.
    """
    beats = np.unique(np.asarray(beats, dtype=np.float64))  # sorted, no zero-length beats
    if len(beats) >= 2:
        pos = np.interp(times, beats, np.arange(len(beats), dtype=np.float64))
        first = beats[1] - beats[0]
        last = beats[-1] - beats[-2]
        pos = np.where(times < beats[0], (times - beats[0]) / first, pos)
        return np.where(times > beats[-1], len(beats) - 1 + (times - beats[-1]) / last, pos)
    if tempo <= 0:
        return None
    origin = beats[0] if len(beats) else 0.0
    return (times - origin) * tempo / 60.0


def grid_pulse(
    n_frames: int, *, fps: float, beats: np.ndarray, tempo: float, subdivision: float, decay: float
) -> np.ndarray:
    """Tempo-synced pulse ``[N]`` in [0, 1]: exactly 1 at the frame nearest each grid point.

    Grid points fall every ``subdivision`` beats. After a grid point the pulse decays as
    ``exp(-Δ/decay)·(1 - Δ/subdivision)`` (Δ in beats from the point to the start of the
    frame's window), reaching 0 before the next one.
    """
    idx = np.arange(n_frames, dtype=np.float64)
    # Frame i owns the grid point inside its window [(i-½)/fps, (i+½)/fps) and peaks there.
    lo = beat_position((idx - 0.5) / fps, beats=beats, tempo=tempo)
    if lo is None:
        return np.zeros(n_frames)
    hi = beat_position((idx + 0.5) / fps, beats=beats, tempo=tempo)
    last_point = (np.ceil(hi / subdivision) - 1.0) * subdivision  # latest point before hi
    delta = np.clip(lo - last_point, 0.0, subdivision)
    return np.exp(-delta / decay) * (1.0 - delta / subdivision)


def onset_envelope(onset: np.ndarray, *, decay_frames: float) -> np.ndarray:
    """Peak-hold envelope ``[N]``: jumps with each onset, then decays ``exp(-1/decay_frames)``/frame."""
    onset = np.clip(np.asarray(onset, dtype=np.float64), 0.0, 1.0)
    keep = np.exp(-1.0 / max(decay_frames, 1e-3))
    out = np.empty_like(onset)
    level = 0.0
    for i, value in enumerate(onset):  # N ≈ 10⁴ per track: a Python loop costs milliseconds
        level = max(value, level * keep)
        out[i] = level
    return out


def local_max(x: np.ndarray, *, radius: int) -> np.ndarray:
    """Running maximum over ``±radius`` frames (a kick one frame off the beat still counts)."""
    return maximum_filter1d(np.asarray(x, dtype=np.float64), size=2 * radius + 1, mode="nearest")


def chord_root(label: str) -> int | None:
    """Pitch class of a chord label such as ``"F#m"``/``"Bb"``; ``None`` for ``"N"``/unknown."""
    if not label or label[0].upper() not in PITCH_NAMES:
        return None
    pc = PITCH_NAMES[label[0].upper()]
    if len(label) > 1 and label[1] in "#b":
        pc += 1 if label[1] == "#" else -1
    return pc % 12


def hue_from_chroma(chroma: np.ndarray) -> np.ndarray:
    """Hue ``[N]`` in [0, 1): chroma ``[N, 12]`` averaged around the circle of fifths.

    Related keys get neighbouring hues (C ≈ red, G ≈ orange, …, F ≈ magenta).
    """
    angles = 2 * np.pi * FIFTHS / 12.0
    vec = np.asarray(chroma, dtype=np.float64) @ np.exp(1j * angles)
    return np.mod(np.angle(vec) / (2 * np.pi), 1.0)


def pitch_class_of_hue(hue_deg: float) -> int:
    """Inverse of :func:`hue_from_chroma` for one hue in degrees: the nearest pitch class."""
    position = int(round(float(hue_deg) / 30.0)) % 12
    return int((7 * position) % 12)  # 7 is its own inverse mod 12


def anchor_scores(
    stats: Sequence[Mapping[str, float]],
    tags: Sequence[Sequence[str]],
    *,
    prefer: Mapping[str, float],
    tag_weights: Mapping[str, float],
) -> np.ndarray:
    """Score ``[M]`` per anchor: Σ weight·zscore(stat) over anchors + Σ tag bonuses.

    A stat an anchor lacks counts as the mean (z = 0); a stat constant over anchors adds nothing.
    """
    score = np.zeros(len(stats))
    for name, weight in prefer.items():
        values = np.array([float(s.get(name, np.nan)) for s in stats])
        mean = np.nanmean(values) if np.any(np.isfinite(values)) else 0.0
        values = np.where(np.isfinite(values), values, mean)
        std = values.std()
        if std > 1e-12:
            score += weight * (values - mean) / std
    for tag, weight in tag_weights.items():
        score += weight * np.array([tag in t for t in tags], dtype=np.float64)
    return score


def fit_grid(latent: np.ndarray, *, hw: tuple[int, int]) -> np.ndarray:
    """``[C, h0, w0]`` → ``[C, h, w]``: the anchor in the centre, fresh cells around it.

    Cells outside the anchor follow the anchor's own per-channel mean and spread — its style part
    under the generator's latent prior (``renderer.decode.generator.sample_latents``), plus fresh per-cell
    noise — drawn from a generator seeded by the anchor's own bytes, so the result is deterministic
    per anchor and the wider canvas continues the same picture. (Wrap tiling, the first approach,
    repeated the anchor side by side: on a 16:9 canvas the picture visibly showed the same shapes
    twice.) Grids smaller than the anchor take its centre.
    """
    c, h0, w0 = latent.shape
    h, w = hw
    top, left = (h - h0) // 2, (w - w0) // 2
    if h <= h0 and w <= w0:
        return np.ascontiguousarray(latent[:, -top : -top + h, -left : -left + w])
    seed = zlib.crc32(np.ascontiguousarray(latent, dtype=np.float32).tobytes())
    mean = latent.mean(axis=(1, 2), keepdims=True)
    spread = latent.std(axis=(1, 2), keepdims=True)
    fresh = np.random.default_rng(seed).standard_normal((c, h, w))
    out = (mean + spread * fresh).astype(np.float32)
    ys, xs = (
        slice(max(top, 0), max(top, 0) + min(h, h0)),
        slice(max(left, 0), max(left, 0) + min(w, w0)),
    )
    src_y = slice(max(-top, 0), max(-top, 0) + min(h, h0))
    src_x = slice(max(-left, 0), max(-left, 0) + min(w, w0))
    out[:, ys, xs] = latent[:, src_y, src_x]
    return out


def orthonormal_fields(
    rng: np.random.Generator, *, count: int, shape: tuple[int, ...]
) -> np.ndarray:
    """``[count, D]`` orthonormal rows (QR of Gaussian noise), ``D = prod(shape)``."""
    dim = int(np.prod(shape))
    q, _ = np.linalg.qr(rng.standard_normal((dim, count)))
    return np.ascontiguousarray(q.T)
