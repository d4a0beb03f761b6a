"""Chord recognition: beat-synchronous chroma, 24 triad templates + no-chord, Viterbi smoothing."""

from __future__ import annotations

import numpy as np

from renderer.analysis.key import PITCHES

_TEMPLATES: list[tuple[str, np.ndarray]] = []
for _root in range(12):
    for _suffix, _intervals in (("", (0, 4, 7)), ("m", (0, 3, 7))):
        _t = np.zeros(12)
        _t[[(_root + i) % 12 for i in _intervals]] = 1.0
        _t[_root] += 0.3  # the root usually dominates (bass)
        _TEMPLATES.append((PITCHES[_root] + _suffix, _t / np.linalg.norm(_t)))
LABELS = [name for name, _ in _TEMPLATES] + ["N"]
TEMPLATE_MATRIX = np.stack([t for _, t in _TEMPLATES])  # [24, 12]


def chord_likelihoods(chroma: np.ndarray) -> np.ndarray:
    """Per-frame probabilities ``[25, T]`` over chord labels from chroma ``[12, T]``."""
    energy = chroma.sum(axis=0)
    norm = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-9)
    sim = TEMPLATE_MATRIX @ norm  # cosine similarity in [0, 1]
    # Chroma arrives loudness-gated (see audio_features.loudness_gate): faint frames lean to "N".
    no_chord = np.where(energy < 1e-3, 1.0, 0.55 + 0.45 * np.clip(1.0 - energy, 0.0, 1.0))[None, :]
    logits = np.vstack([sim, no_chord]) * 25.0
    logits -= logits.max(axis=0, keepdims=True)
    prob = np.exp(logits)
    return prob / prob.sum(axis=0, keepdims=True)


def recognise_chords(
    chroma: np.ndarray, *, times: np.ndarray, end_time: float, self_loop: float = 0.9
) -> list[tuple[float, float, str]]:
    """Chord segments ``(start, end, label)`` from chroma ``[12, T]`` sampled at ``times`` ``[T]``.

    ``times`` are the frame (e.g. beat) start times. Viterbi decoding with a sticky transition
    matrix suppresses one-frame flickers.
    """
    import librosa

    if chroma.shape[1] == 0:
        return []
    prob = chord_likelihoods(chroma)
    transition = librosa.sequence.transition_loop(len(LABELS), self_loop)
    path = librosa.sequence.viterbi(prob, transition)
    segments: list[tuple[float, float, str]] = []
    start = 0
    for i in range(1, len(path) + 1):
        if i == len(path) or path[i] != path[start]:
            stop = times[i] if i < len(path) else end_time
            segments.append((float(times[start]), float(stop), LABELS[path[start]]))
            start = i
    return segments
