"""Visual accents from the music: where the picture kicks, how hard, and how the kick decays.

The picture is driven by *impulses* — a value in [0, 1] on the frames that should kick, zero
elsewhere — rather than by a continuous envelope: the change of the picture on a frame is then
(nearly) proportional to the impulse on that frame, and the frames between impulses move only by
the slow drift and the kick's exponential return. Two sources, mixed per beat by the tracker's
confidence (``analysis.beat_confidence``):

- **beats** where the tracker is confident: one impulse on each grid point (every
  ``subdivision`` beats; a tracked beat slower than ``MIN_BEAT_BPM`` counts as two, unless the
  grid already runs faster), moved to the strongest onset on its frame or the ``SNAP_FRAMES``
  after it (the transient you hear, not the tracker's rounding; never earlier, because a picture
  that leads the sound reads as out of sync), its height ``beat_pulse·(1 - g + g·strength)``
  with the transient's onset/percussive strength;
- **onsets** elsewhere: an impulse on each onset peak (a local maximum that reaches a share of
  the loudest onset within ±``PEAK_WINDOW_S``: ``PEAK_SHARE`` under a trusted grid,
  ``FREE_PEAK_SHARE`` where there is none, so a passage without beats also kicks on the softer
  hits its pulse may sit on — the "oom" of an oom-pah), its height the onset strength.
  Where the beats are trusted, onset peaks between them still kick, at ``offbeat_onsets`` of their
  height, so syncopation shows without drowning the beat.

A low-confidence passage (rubato, free time, noise) therefore follows its onsets instead of an
invented grid. The controller moves every impulse ``motion.latency`` s earlier: the delay between
the audio onset and the picture's change measured on rendered files by
``benchmarks/reactivity_real.py`` (0 frames at 24 fps for every preset: the onset features are
already moved to the hit, ``renderer.audio.features.ONSET_LATENCY_S``), so the default is 0.

All functions map whole-timeline arrays ``[N]`` (one value per video frame) to whole-timeline
arrays, so the controller computes them once and any chunk is a slice of the same result.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

from renderer.control import motion

SNAP_FRAMES = 1  # a beat impulse moves to the strongest onset on its frame or the next
PEAK_SHARE = 0.6  # an onset peak kicks when it reaches this share of the local loudest onset
FREE_PEAK_SHARE = 0.4  # … where no beat grid is trusted: the onsets are all there is to follow
PEAK_WINDOW_S = 0.5  # ± seconds of that local comparison
PEAK_GAP_S = 0.08  # a peak is the largest onset within ± this (≥ 1 frame): one kick per hit
CONFIDENCE_RAMP = 0.2  # beat weight ramps 0 → 1 over [threshold, threshold + ramp]
# Tracked beats slower than this are split in halves: beat trackers' tempo-octave errors are mostly
# halvings (a 130 bpm swing tune reported at 65), and beats ¾ s apart no longer read as a pulse.
MIN_BEAT_BPM = 80.0


def beat_weights(
    beats: np.ndarray, confidence: np.ndarray | None, *, n_frames: int, fps: float, threshold: float
) -> np.ndarray:
    """Trust in the beat grid ``[N]`` in [0, 1]: the per-beat confidence interpolated over the
    frames, ramped from 0 at ``threshold`` to 1 at ``threshold + CONFIDENCE_RAMP``. Beats given
    without a per-beat confidence (``None`` or a different length) are trusted (1); no beats → 0."""
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) == 0:
        return np.zeros(n_frames)
    if confidence is None or len(confidence) != len(beats):
        return np.ones(n_frames)
    conf = np.asarray(confidence, dtype=np.float64)
    order = np.argsort(beats, kind="stable")
    per_frame = np.interp(np.arange(n_frames) / fps, beats[order], conf[order])
    return np.clip((per_frame - threshold) / CONFIDENCE_RAMP, 0.0, 1.0)


def grid_frames(n_frames: int, *, fps: float, beats: np.ndarray, tempo: float,
                subdivision: float) -> np.ndarray:  # fmt: skip
    """Sorted unique frames that hold a grid point (every ``subdivision`` beats): the frame whose
    window ``[(i-½)/fps, (i+½)/fps)`` contains it. Empty without beats or tempo."""
    idx = np.arange(n_frames, dtype=np.float64)
    lo = motion.beat_position((idx - 0.5) / fps, beats=beats, tempo=tempo)
    if lo is None:
        return np.zeros(0, dtype=int)
    hi = motion.beat_position((idx + 0.5) / fps, beats=beats, tempo=tempo)
    # a grid point k·subdivision lies in [lo, hi) when the counts below lo and below hi differ
    return np.flatnonzero(np.ceil(hi / subdivision) > np.ceil(lo / subdivision))


def beat_split(tempo: float, *, subdivision: float = 1.0) -> int:
    """Grid beats per tracked beat: 2ᵏ, the least that brings a slow ``tempo`` (bpm) to
    ``MIN_BEAT_BPM`` or faster — or the grid of ``subdivision`` such beats to it, so a grid
    that already runs faster is not split again. 1 without a tempo."""
    split = 1
    while 0 < tempo * split < MIN_BEAT_BPM and tempo * split / subdivision < MIN_BEAT_BPM:
        split *= 2
    return split


def onset_peaks(onset: np.ndarray, *, fps: float, share: float | np.ndarray = PEAK_SHARE
                ) -> np.ndarray:  # fmt: skip
    """Boolean ``[N]``: local maxima of ``onset`` (the largest within ±``PEAK_GAP_S``, the first
    of a plateau) that reach ``share`` (a number, or one per frame ``[N]``) of the largest onset
    within ±``PEAK_WINDOW_S`` and are above zero."""
    onset = np.asarray(onset, dtype=np.float64)
    if len(onset) == 0:
        return np.zeros(0, dtype=bool)
    gap = 2 * max(1, int(round(PEAK_GAP_S * fps))) + 1
    near = maximum_filter1d(onset, size=gap, mode="nearest")
    width = 2 * max(1, int(round(PEAK_WINDOW_S * fps))) + 1
    local = maximum_filter1d(onset, size=width, mode="nearest")
    first = np.r_[True, onset[1:] != onset[:-1]]  # one impulse per plateau
    return (onset >= near) & (onset >= share * local) & (onset > 0.0) & first


def snap_to_onsets(
    frames: np.ndarray, onset: np.ndarray, *, radius: int = SNAP_FRAMES
) -> np.ndarray:
    """Each of ``frames`` moved to the frame of the largest ``onset`` among itself and the
    ``radius`` frames after it (the earliest on ties, so a flat onset leaves it in place)."""
    n = len(onset)
    out = np.asarray(frames, dtype=int).copy()
    for i, f in enumerate(out):
        lo, hi = f, min(n, f + radius + 1)
        window = onset[lo:hi]
        if len(window) and window.max() > onset[f]:
            out[i] = lo + int(np.argmax(window))
    return out


def accent_impulses(
    onset: np.ndarray,
    *,
    fps: float,
    beats: np.ndarray,
    tempo: float,
    confidence: np.ndarray | None,
    subdivision: float,
    beat_pulse: float,
    onset_pulse: float,
    percussive: np.ndarray,
    percussive_gain: float,
    threshold: float,
    offbeat_onsets: float,
    use_grid: bool = True,
) -> np.ndarray:
    """Impulses ``[N]`` in [0, 1] (see the module docstring); zero between accents."""
    onset = np.clip(np.asarray(onset, dtype=np.float64), 0.0, 1.0)
    n = len(onset)
    trust = (beat_weights(beats, confidence, n_frames=n, fps=fps, threshold=threshold)
             if use_grid else np.zeros(n))  # fmt: skip
    out = np.zeros(n)
    on_beat = np.zeros(n, dtype=bool)
    if use_grid and beat_pulse > 0:
        step = subdivision / beat_split(tempo, subdivision=subdivision)
        grid = snap_to_onsets(grid_frames(n, fps=fps, beats=beats, tempo=tempo,
                                          subdivision=step), onset)  # fmt: skip
        strength = motion.local_max(np.maximum(onset, np.clip(percussive, 0, 1)), radius=1)
        height = beat_pulse * (1.0 - percussive_gain + percussive_gain * strength[grid])
        np.maximum.at(out, grid, trust[grid] * height)
        on_beat[np.clip(np.concatenate([grid - 1, grid, grid + 1]), 0, n - 1)] = True
    # the less the grid is trusted, the softer the onset peaks that kick
    peaks = onset_peaks(onset, fps=fps,
                        share=FREE_PEAK_SHARE + (PEAK_SHARE - FREE_PEAK_SHARE) * trust)  # fmt: skip
    # trusted beats: onset peaks off the grid kick at offbeat_onsets; untrusted: in full
    share = np.where(on_beat, 1.0 - trust, 1.0 - trust * (1.0 - offbeat_onsets))
    out = np.maximum(out, np.where(peaks, onset_pulse * share * onset, 0.0))
    return np.clip(out, 0.0, 1.0)


def shift_earlier(x: np.ndarray, *, frames: int) -> np.ndarray:
    """``x`` moved ``frames`` earlier (later when negative), zero-filled at the open end."""
    if frames == 0:
        return x.copy()
    out = np.zeros_like(x)
    if frames > 0:
        out[:-frames] = x[frames:]
    else:
        out[-frames:] = x[:frames]
    return out


def decay_response(impulses: np.ndarray, *, decay_frames: float) -> np.ndarray:
    """``y[t] = k·y[t-1] + x[t]`` with ``k = exp(-1/decay_frames)`` along axis 0 (``[N]`` or
    ``[N, J]``): each impulse jumps the level by its height, then the level returns exponentially."""
    x = np.asarray(impulses, dtype=np.float64)
    if len(x) == 0:
        return x.copy()
    keep = float(np.exp(-1.0 / max(decay_frames, 1e-3)))
    return lfilter([1.0], [1.0, -keep], x, axis=0)


def kick_coefficients(impulses: np.ndarray, *, decay_frames: float, directions: int,
                      seed: int) -> np.ndarray:  # fmt: skip
    """``[N, J]``: the kick of each impulse goes along one of ``J`` directions (in turn, with a
    seeded sign), so successive kicks move the picture somewhere new instead of piling up on one
    axis; each coefficient then returns exponentially (:func:`decay_response`)."""
    impulses = np.asarray(impulses, dtype=np.float64)
    n = len(impulses)
    hits = np.flatnonzero(impulses > 0.0)
    rng = np.random.default_rng(motion.name_seed(seed, "kicks"))
    signs = rng.choice([-1.0, 1.0], size=len(hits))
    x = np.zeros((n, directions))
    x[hits, np.arange(len(hits)) % directions] = signs * impulses[hits]
    return decay_response(x, decay_frames=decay_frames)


def pulse_level(impulses: np.ndarray, *, decay_frames: float) -> np.ndarray:
    """The ``pulse`` control ``[N]`` in [0, 1] for post-fx: the impulses' decaying sum, capped."""
    return np.clip(decay_response(impulses, decay_frames=decay_frames), 0.0, 1.0)
