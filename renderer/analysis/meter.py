"""Downbeats and meter from tracked beats: bar-level periodicity of harmony and bass.

Per beat three cues: the change of whole-beat chroma from the previous beat (chords change on the
one), the kick/low-band onset on the beat, and the overall onset strength (accents, crashes).
For every bar length ``m`` (2, 3, 4 beats) and phase ``p``, the contrast of the cues on beats
``p, p+m, …`` against all other beats says how strongly the music repeats every ``m`` beats
starting there; the best (m, p) gives the downbeats. 4 wins near-ties (the common case, and
what annotators choose for 2/4 too); a 2-beat bar is only taken with a ternary subdivision, and
there it is the usual reading (6/8, not 12/8): four beats only where every other bar's downbeat
stands out clearly (:data:`COMPOUND_PAIR`). The subdivision is ternary when the onsets a third and
two thirds of the way through each beat both outweigh those half-way (swing fills only the second).
"""

from __future__ import annotations

import numpy as np

_METER_NAMES = {(4, 2): "4/4", (3, 2): "3/4", (2, 2): "2/4", (2, 3): "6/8", (3, 3): "9/8",
                (4, 3): "12/8"}  # fmt: skip


# With a ternary subdivision, a 2-beat bar (6/8) is taken over the best 4-beat one (12/8) when its
# contrast reaches this share of the 4-beat bar's: alternate bars differing a little (a two-bar
# chord pattern) do not make the bar twice as long.
COMPOUND_PAIR = 0.8


def harmonic_novelty(chroma: np.ndarray, *, frame_rate: float, width: float = 0.2
                     ) -> np.ndarray:  # fmt: skip
    """Chroma change ``[T]`` at each frame: distance of the mean normalised chroma of the
    ``width`` seconds after the frame from that of the ``width`` seconds before it."""
    n = chroma.shape[1]
    w = max(1, int(round(width * frame_rate)))
    norm = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-9)
    csum = np.concatenate([np.zeros((chroma.shape[0], 1)), np.cumsum(norm, axis=1)], axis=1)
    f = np.arange(n)
    lo, hi = np.clip(f - w, 0, n), np.clip(f + w, 0, n)
    before = (csum[:, f] - csum[:, lo]) / np.maximum(f - lo, 1)
    after = (csum[:, hi] - csum[:, f]) / np.maximum(hi - f, 1)
    return np.linalg.norm(after - before, axis=0)


def _at(x: np.ndarray, times: np.ndarray, *, frame_rate: float, reach: int = 2) -> np.ndarray:
    idx = np.round(np.asarray(times) * frame_rate).astype(int)
    out = np.zeros(len(idx))
    for d in range(-reach, reach + 1):
        out = np.maximum(out, x[np.clip(idx + d, 0, len(x) - 1)])
    return out


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-9)


def subdivision(beats: np.ndarray, *, activation: np.ndarray, frame_rate: float) -> int:
    """3 when the onsets at ⅓ *and* at ⅔ of the beats each outweigh those at ½ (×1.15) and the
    weaker third carries at least a quarter of the stronger; else 2. Swing is binary: its late
    off-beat (at 0.55–0.7 of the beat) lies near ⅔, but nothing falls at ⅓."""
    if len(beats) < 4:
        return 2
    ibi = np.diff(beats)
    start = beats[:-1]
    half = _at(activation, start + ibi / 2, frame_rate=frame_rate, reach=1).mean()
    first, second = (_at(activation, start + ibi * k / 3, frame_rate=frame_rate, reach=1).mean()
                     for k in (1, 2))  # fmt: skip
    weaker, stronger = min(first, second), max(first, second)
    return 3 if weaker > 1.15 * half and weaker >= 0.25 * stronger else 2


def beat_chroma_change(beats: np.ndarray, *, chroma: np.ndarray, frame_rate: float
                       ) -> np.ndarray:  # fmt: skip
    """Distance ``[B]`` of each beat's mean normalised chroma from the previous beat's."""
    frames = np.clip(np.round(beats * frame_rate).astype(int), 0, chroma.shape[1] - 1)
    ends = np.r_[frames[1:], min(chroma.shape[1], frames[-1] + int(np.median(np.diff(frames))))]
    norm = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-9)
    beat_chroma = np.stack([norm[:, a : max(b, a + 1)].mean(axis=1)
                            for a, b in zip(frames, ends, strict=True)], axis=1)  # fmt: skip
    return np.r_[0.0, np.linalg.norm(np.diff(beat_chroma, axis=1), axis=0)]


def find_meter(
    beats: np.ndarray,
    *,
    low: np.ndarray,
    chroma: np.ndarray,
    activation: np.ndarray,
    frame_rate: float,
) -> tuple[np.ndarray, int, str]:
    """``(downbeats [D], beats_per_bar, meter name)`` for ``beats`` (s); curves are ``[T]``."""
    if len(beats) < 8:
        return beats[:1].copy(), 4, "4/4" if len(beats) else ""
    sub = subdivision(beats, activation=activation, frame_rate=frame_rate)
    change = beat_chroma_change(beats, chroma=chroma, frame_rate=frame_rate)
    cue = (_z(change) + 0.5 * _z(_at(low, beats, frame_rate=frame_rate))
           + 0.25 * _z(_at(activation, beats, frame_rate=frame_rate)))  # fmt: skip
    best = (-np.inf, 4, 0)
    for m in (4, 3, 2):
        if m == 2 and sub != 3:
            continue
        for p in range(m):
            on = np.zeros(len(cue), dtype=bool)
            on[p::m] = True
            contrast = cue[on].mean() - cue[~on].mean()
            if m != 4:
                contrast /= 1.1  # 4/4 wins near-ties
            if contrast > best[0]:
                best = (contrast, m, p)
    _, m, p = best
    if m == 4 and sub == 3:  # two bars of 6/8 read as one of 12/8?
        on = np.zeros(len(cue), dtype=bool)
        on[p % 2 :: 2] = True
        if cue[on].mean() - cue[~on].mean() >= COMPOUND_PAIR * best[0]:
            m, p = 2, p % 2
    return beats[p::m].copy(), m, _METER_NAMES.get((m, sub), f"{m}/4")
