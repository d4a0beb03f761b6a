"""The controller's per-track control signals, as pure functions of features, analysis and settings.

Each maps whole-timeline inputs to whole-timeline arrays (``[N]`` per video frame, or ``[N, K]``),
so :class:`renderer.control.controller.LatentController` computes them once and slices them for
any chunk. Accents (impulses, kicks) are built in :mod:`renderer.control.accents`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from renderer.config.models import ControllerSettings, Motion
from renderer.control import accents, motion

if TYPE_CHECKING:
    from renderer.analysis.core import Analysis
    from renderer.audio.features import FrameFeatures
    from renderer.decode.model_meta import ModelMeta

WANDER_FIELDS = 4  # J orthonormal directions
WANDER_PARTIALS = 3  # sinusoids per direction
KICK_FIELDS = 4  # directions successive kicks take in turn
CUT_SECONDS = 0.5  # e-folding time of the "scene_cut" signal
SCENE_BURST_S = 0.6  # a scene change sweeps the picture fast for this long (s)
SCENE_HZ = (3.0, 5.0)  # frequencies of that sweep: about a radian per frame at 24–30 fps


@dataclass(frozen=True)
class SlowControls:
    """Smoothed per-frame controls ``[T]`` (chroma ``[T, 12]``), all in [0, 1] except ``phase``
    (the anchor drift phase τ in cycles, non-decreasing)."""

    energy: np.ndarray
    chroma: np.ndarray
    hue: np.ndarray
    phase: np.ndarray


def slow_controls(frames: FrameFeatures, analysis: Analysis, settings: ControllerSettings, *, fps: float
                  ) -> SlowControls:  # fmt: skip
    """Energy, chord-boosted chroma, hue and drift phase, causally smoothed (EMA)."""
    m = settings.motion
    n = int(frames.n_frames)
    alpha = motion.alpha_at(settings.smoothing_alpha, fps=fps)
    energy = np.clip(motion.ema(frames.rms, alpha=alpha), 0.0, 1.0)
    harmonic = np.clip(motion.ema(frames.harmonic, alpha=alpha), 0.0, 1.0)
    chroma = np.asarray(frames.chroma, dtype=np.float64).copy()
    for seg in getattr(analysis, "chords", []) or []:
        root = motion.chord_root(seg.label)
        if root is not None:
            chroma[int(round(seg.start * fps)) : int(round(seg.end * fps)), root] += 0.5
    chroma = motion.ema(chroma, alpha=alpha)
    chroma /= np.maximum(chroma.max(axis=1, keepdims=True), 1e-9)
    hue = motion.hue_from_chroma(chroma)
    speed = m.drift_speed + m.harmonic_drift * harmonic  # cycles per second
    phase = np.concatenate([[0.0], np.cumsum(speed[:-1]) / fps])[:n]
    return SlowControls(energy, chroma, hue, phase)


def decay_frames(analysis: Analysis, m: Motion, *, fps: float) -> float:
    """The kick's e-folding time in frames: ``pulse_decay`` beats at the track's tempo (a beat
    of ½ s without one)."""
    tempo = float(getattr(analysis, "tempo", 0.0) or 0.0)
    beat_s = 60.0 / tempo if tempo > 0 else 0.5
    return m.pulse_decay * beat_s * fps


def accent_signal(frames: FrameFeatures, analysis: Analysis, settings: ControllerSettings, *,
                  fps: float) -> np.ndarray:  # fmt: skip
    """Accent impulses ``[T]`` in [0, 1]: trusted beats and onset peaks
    (:func:`renderer.control.accents.accent_impulses`), moved ``latency`` s earlier."""
    m = settings.motion
    confidence = getattr(analysis, "beat_confidence", None)
    impulses = accents.accent_impulses(
        np.asarray(frames.onset),
        fps=fps,
        beats=np.asarray(getattr(analysis, "beats", ()), dtype=np.float64),
        tempo=float(getattr(analysis, "tempo", 0.0) or 0.0),
        confidence=None if confidence is None else np.asarray(confidence, dtype=np.float64),
        subdivision=settings.tempo_sync.subdivision,
        beat_pulse=m.beat_pulse,
        onset_pulse=m.onset_pulse,
        percussive=np.asarray(frames.percussive),
        percussive_gain=m.percussive_gain,
        threshold=m.beat_confidence,
        offbeat_onsets=m.offbeat_onsets,
        use_grid=settings.tempo_sync.enabled,
    )
    return accents.shift_earlier(impulses, frames=int(round(m.latency * fps)))


def pulse_signal(frames: FrameFeatures, analysis: Analysis, settings: ControllerSettings, *, fps: float
                 ) -> np.ndarray:  # fmt: skip
    """The ``pulse`` control ``[T]`` in [0, 1] (post-fx exposure): the accents' decaying sum."""
    impulses = accent_signal(frames, analysis, settings, fps=fps)
    return accents.pulse_level(
        impulses, decay_frames=decay_frames(analysis, settings.motion, fps=fps)
    )


def scene_boundaries(analysis: Analysis, markers: Sequence[float], m: Motion, *, fps: float,
                     n_frames: int) -> list[int]:  # fmt: skip
    """Frames where a scene starts (sorted, first 0). Every section start (with
    ``scene_changes``) and every marker opens a scene unless it is closer than ``min_scene`` to
    the previous kept one or to the end; section starts are placed first, so a marker near a
    section start never displaces it (the reactivity metric looks for a change at each section)."""
    min_gap = max(1, int(round(m.min_scene * fps)))
    sections = (
        [float(s.start) for s in getattr(analysis, "sections", []) or []] if m.scene_changes else []
    )
    kept = [0]
    for group in (sections, [float(t) for t in markers]):
        for frame in sorted({int(round(t * fps)) for t in group}):
            if n_frames - frame < min_gap or frame < min_gap:
                continue
            if all(abs(frame - k) >= min_gap for k in kept):
                kept.append(frame)
        kept.sort()
    return kept


def cut_signal(scene_frames: Sequence[int], *, n_frames: int, fps: float) -> np.ndarray:
    """``[T]``: 1 on each scene's first frame (but the first scene's), decaying with e-folding
    time ``CUT_SECONDS``."""
    cut = np.zeros(n_frames)
    idx = np.arange(n_frames)
    for frame in scene_frames[1:]:
        after = idx >= frame
        cut[after] = np.maximum(cut[after], np.exp(-(idx[after] - frame) / (CUT_SECONDS * fps)))
    return cut


@dataclass(frozen=True)
class WanderBasis:
    """``dirs [J, D]`` orthonormal float32 fields; ``freq``/``phase`` ``[J, partials]``."""

    dirs: np.ndarray
    freq: np.ndarray
    phase: np.ndarray


def wander_basis(seed: int, *, shape: tuple[int, int, int], name: str = "wander",
                 freq_range: tuple[float, float] = (0.5, 2.0)) -> WanderBasis:  # fmt: skip
    """The seeded wander directions and sinusoid frequencies/phases of one track (``name``
    ``"scene"``: the fast sweep of a scene change, :data:`SCENE_HZ`)."""
    rng = np.random.default_rng(motion.name_seed(seed, name))
    dirs = motion.orthonormal_fields(rng, count=WANDER_FIELDS, shape=shape).astype(np.float32)
    freq = rng.uniform(*freq_range, (len(dirs), WANDER_PARTIALS))
    phase = rng.uniform(0, 2 * np.pi, freq.shape)
    return WanderBasis(dirs, freq, phase)


def sweep(basis: WanderBasis, times: np.ndarray) -> np.ndarray:
    """``[n, J]`` coefficients in [-1, 1]: each direction's first seeded sinusoid at ``times``
    (s) — one sinusoid, not a mean of several, so the sweep keeps its full speed."""
    return np.sin(2 * np.pi * basis.freq[None, :, 0] * times[:, None] + basis.phase[None, :, 0])


def burst_signal(scene_frames: Sequence[int], *, n_frames: int, fps: float) -> np.ndarray:
    """``[T]``: 1 on each scene's first frame (but the first scene's), falling linearly to 0
    over ``SCENE_BURST_S`` — the envelope of the scene change's fast sweep."""
    out = np.zeros(n_frames)
    idx = np.arange(n_frames)
    span = max(1.0, SCENE_BURST_S * fps)
    for frame in scene_frames[1:]:
        out = np.maximum(out, np.clip(1.0 - (idx - frame) / span, 0.0, 1.0) * (idx >= frame))
    return out


def pulse_direction(meta: ModelMeta, m: Motion, *, seed: int, shape: tuple[int, int, int],
                    offset: int = 0) -> np.ndarray:  # fmt: skip
    """``[D]`` float32 of norm √D: PCA axis ``pulse_axis + offset`` of ``meta`` on every cell
    (the last axis when there are fewer), else a seeded field."""
    c, h, w = shape
    axes = np.asarray(getattr(meta, "pca_axes", np.zeros((0, c))), dtype=np.float64)
    index = m.pulse_axis + offset
    usable = axes.ndim == 2 and axes.shape[1:] == (c,) and (index < len(axes) or offset == 0)
    if usable and len(axes):
        axis = axes[min(index, len(axes) - 1)]
        field = np.broadcast_to(axis[:, None, None], (c, h, w)).reshape(-1)
    else:
        name = "pulse" if offset == 0 else f"pulse-{offset}"
        rng = np.random.default_rng(motion.name_seed(seed, name))
        field = rng.standard_normal(c * h * w)
    norm = np.linalg.norm(field)
    return (field / (norm if norm > 0 else 1.0) * np.sqrt(c * h * w)).astype(np.float32)


def kick_directions(meta: ModelMeta, m: Motion, *, seed: int, shape: tuple[int, int, int]
                    ) -> np.ndarray:  # fmt: skip
    """``[KICK_FIELDS, D]`` float32, each of norm √D: the axes successive kicks take in turn."""
    return np.stack([pulse_direction(meta, m, seed=seed, shape=shape, offset=j)
                     for j in range(KICK_FIELDS)])  # fmt: skip
