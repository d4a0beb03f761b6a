"""Global key (major/minor) from a chroma summary by correlation with tonal profiles.

Uses the Temperley (Kostka–Payne) profiles, which separate relative major/minor better than
Krumhansl–Kessler on pop/electronic music, averaged with Krumhansl–Kessler for robustness.
Confidence is the margin between the best and the runner-up correlation mapped to [0, 1].
"""

from __future__ import annotations

import numpy as np

PITCHES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_TP_MAJOR = np.array(
    [0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400]
)
_TP_MINOR = np.array(
    [0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330]
)


def _z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-12)


MAJOR_PROFILE = (_z(_KK_MAJOR) + _z(_TP_MAJOR)) / 2
MINOR_PROFILE = (_z(_KK_MINOR) + _z(_TP_MINOR)) / 2

# Enharmonic spellings used in key names (sharps for minor keys, as in our tracklists).
_MINOR_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def key_name(tonic: int, mode: str) -> str:
    """``(9, "minor") → "Am"``; ``(3, "major") → "Eb"``."""
    return f"{_MINOR_NAMES[tonic]}m" if mode == "minor" else PITCHES[tonic]


def key_scores(chroma_profile: np.ndarray) -> np.ndarray:
    """Correlations ``[24]``: 12 major keys (C..B) then 12 minor keys."""
    v = _z(np.asarray(chroma_profile, dtype=float))
    scores = np.empty(24)
    for tonic in range(12):
        scores[tonic] = np.dot(v, np.roll(MAJOR_PROFILE, tonic)) / 12
        scores[12 + tonic] = np.dot(v, np.roll(MINOR_PROFILE, tonic)) / 12
    return scores


def estimate_key(chroma: np.ndarray, *, weights: np.ndarray | None = None) -> tuple[str, float]:
    """Key name and confidence from chroma ``[12, T]`` (optionally weighted per frame ``[T]``).

    Frames are weighted by ``weights`` (e.g. harmonic energy) and the bass-heavy tonic emphasis of
    the first and last bars is not needed: the whole-track profile decides.
    """
    if chroma.size == 0 or not np.any(chroma):
        return "C", 0.0
    w = np.ones(chroma.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    profile = (chroma * w[None, :]).sum(axis=1)
    if not np.any(profile > 0):
        return "C", 0.0
    scores = key_scores(profile)
    order = np.argsort(scores)[::-1]
    best, second = scores[order[0]], scores[order[1]]
    confidence = float(np.clip((best - second) / 0.15 + 0.3 * best, 0.0, 1.0))
    index = int(order[0])
    return key_name(index % 12, "minor" if index >= 12 else "major"), confidence
