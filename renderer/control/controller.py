"""Latent controller: features + analysis + preset + seed → latents ``[T, C, h, w]``.

Per frame ``t`` (all control signals are computed once for the whole track, so any chunk is a
slice of the same trajectory — ``latents(a, b) == latents(0, n)[a:b]`` bit for bit)::

    W[t]      anchor weights [M], a convex combination (sums to one):
              scenes = sections (+ tracklist markers as cues), each with ``per_scene`` anchors
              drawn (seeded Gumbel top-k) from softmax(preference score / temperature), as many
              as possible new after the previous scene; a repeated section label (the second
              chorus) returns to its first anchors; inside a scene, softmax(focus·cos(2π(τ_t − j/K)) + chroma_anchor ·
              chroma[t, pitch class of anchor j]); the drift phase τ advances at
              drift_speed + harmonic_drift·harmonic(t) cycles/s; at a scene boundary the old
              weights cross-fade to the new ones over ``crossfade`` s (ease-out, so the change
              starts on the boundary frame), while a fast seeded sweep (3–5 Hz, amplitude
              scene_motion·√D falling to 0 over 0.6 s) makes the change unmistakable
    blend     Σ_a W[t,a] · anchor_a (anchors wrap-tiled to the latent grid, motion.fit_grid)
    wander    amp(t) · √D · Σ_j c_j(t) U_j / √J: U_j orthonormal seeded fields, c_j means of
              seeded sinusoids of the frame time (|c_j| ≤ 1), so ‖wander‖ ≤ wander_scale · √D;
              amp follows loudness (energy_wander share) and never exceeds wander_scale
    kick      pulse_strength · √D · Σ_j k_j(t) P_j: accent impulses (signals.accent_signal:
              trusted beats snapped to their onsets, onset peaks where the beat tracker is not
              confident, off-beat onsets at a share) each kick along one of J PCA axes P_j in
              turn (seeded sign), returning with e-folding time pulse_decay beats, so the
              picture changes on the accent frame and little between accents; the kicks'
              decaying sum, capped at 1, is the "pulse" signal for postfx
    z[t]      (blend + wander + kick) rescaled to norm √(Σ_a W[t,a]·‖anchor_a‖²) — the norm of
              the anchors themselves (≈ √D for N(0, 1) anchors), so blends never shrink
              towards the origin (slerp-like) and the generator sees its usual latent range.

Slow controls (energy, harmonic drift speed, chroma) are smoothed by a causal EMA with
``smoothing_alpha`` (per frame at 30 fps; converted for other rates); accents are not smoothed.
The pure building blocks live in :mod:`renderer.control.signals` and
:mod:`renderer.control.accents`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from renderer.config.models import ControllerSettings
from renderer.control import accents, motion
from renderer.control.signals import (
    KICK_FIELDS,
    SCENE_HZ,
    accent_signal,
    burst_signal,
    cut_signal,
    decay_frames,
    kick_directions,
    pulse_direction,
    pulse_signal,
    scene_boundaries,
    slow_controls,
    sweep,
    wander_basis,
)

if TYPE_CHECKING:
    from renderer.analysis.core import Analysis
    from renderer.audio.features import FrameFeatures
    from renderer.decode.model_meta import ModelMeta

# the building blocks, importable from here as before
__all__ = ["LatentController", "cut_signal", "pulse_direction", "pulse_signal",
           "scene_boundaries", "slow_controls", "wander_basis"]  # fmt: skip


class LatentController:
    """Chunk-addressable latent trajectory for one track (see the module docstring)."""

    def __init__(
        self,
        *,
        meta: ModelMeta,
        frames: FrameFeatures,
        analysis: Analysis,
        settings: ControllerSettings | Mapping[str, Any],
        seed: int,
        latent_hw: tuple[int, int],
        markers: Sequence[float] = (),
    ) -> None:
        if not isinstance(settings, ControllerSettings):
            settings = ControllerSettings.model_validate(dict(settings))
        self.settings = settings
        self.seed = int(seed)
        self.fps = float(frames.fps)
        self.n_frames = int(frames.n_frames)
        self.latent_hw = (int(latent_hw[0]), int(latent_hw[1]))
        self._check_frames(frames)
        n, fps = self.n_frames, self.fps

        # Anchors on the target grid, flattened to [M, D].
        anchors = [motion.fit_grid(a.latent, hw=self.latent_hw) for a in meta.anchors]
        self.anchor_ids = [a.id for a in meta.anchors]
        self._shape = anchors[0].shape  # (C, h, w)
        self._anchors = np.stack([a.reshape(-1) for a in anchors]).astype(np.float32)
        self._sq_norms = np.sum(self._anchors.astype(np.float64) ** 2, axis=1)
        self._unit = float(np.sqrt(self._anchors.shape[1]))  # ‖N(0, I_D) sample‖ ≈ √D

        # Slow controls and pulses: pure functions of the features (module level, testable).
        slow = slow_controls(frames, analysis, settings, fps=fps)
        self._energy, self._hue, self._phase = slow.energy, slow.hue, slow.phase
        chroma = slow.chroma
        impulses = accent_signal(frames, analysis, settings, fps=fps)
        decay = decay_frames(analysis, settings.motion, fps=fps)
        self._pulse = accents.pulse_level(impulses, decay_frames=decay)
        self._kicks = accents.kick_coefficients(
            impulses, decay_frames=decay, directions=KICK_FIELDS, seed=self.seed
        )

        # Scenes and anchor weights.
        self.scene_frames = scene_boundaries(
            analysis, markers, settings.motion, fps=fps, n_frames=n
        )
        scores = motion.anchor_scores(
            [a.stats for a in meta.anchors],
            [a.tags for a in meta.anchors],
            prefer=settings.anchors.prefer,
            tag_weights=settings.anchors.tags,
        )
        self.base_weights = motion.softmax(scores / settings.anchors.temperature)
        self.scene_sets = self._choose_sets(analysis)
        self._pitch = self._anchor_pitch_classes(meta)
        self._weights = self._anchor_weights(chroma)
        self._active = np.flatnonzero(self._weights.max(axis=0) > 0.0)
        self._scene_cut = cut_signal(self.scene_frames, n_frames=n, fps=fps)
        self._burst = burst_signal(self.scene_frames, n_frames=n, fps=fps)

        # Wander and pulse directions (fixed per track, seeded by name).
        wseed = settings.wander_seed if settings.wander_seed is not None else self.seed
        self._wander = wander_basis(wseed, shape=self._shape)
        self._sweep = wander_basis(self.seed, shape=self._shape, name="scene", freq_range=SCENE_HZ)
        self._kick_dirs = kick_directions(meta, settings.motion, seed=self.seed, shape=self._shape)

    # ------------------------------------------------------------------ setup helpers
    def _check_frames(self, frames: Any) -> None:
        for name in ("rms", "onset", "harmonic", "percussive"):
            if np.shape(getattr(frames, name)) != (self.n_frames,):
                raise ValueError(
                    f"frames.{name}: expected shape ({self.n_frames},), "
                    f"got {np.shape(getattr(frames, name))}"
                )
        if np.shape(frames.chroma) != (self.n_frames, 12):
            raise ValueError(
                f"frames.chroma: expected ({self.n_frames}, 12), got {frames.chroma.shape}"
            )
        if self.n_frames < 1:
            raise ValueError("frames.n_frames must be at least 1")

    def _choose_sets(self, analysis: Any) -> list[np.ndarray]:
        """Anchor indices per scene: Gumbel top-k on the preference weights, seeded."""
        a = self.settings.anchors
        rng = np.random.default_rng(motion.name_seed(self.seed + a.shuffle_seed, "anchors"))
        k = min(a.per_scene, len(self.base_weights))
        sections = getattr(analysis, "sections", []) or []
        by_label: dict[str, np.ndarray] = {}
        sets: list[np.ndarray] = []
        for i, frame in enumerate(self.scene_frames):
            t = frame / self.fps
            label = next((s.label for s in sections if abs(s.start * self.fps - frame) < 1), None)
            label = label or f"cue-{i}"
            gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, len(self.base_weights))))
            logits = np.log(self.base_weights + 1e-300) + gumbel
            reuse = by_label.get(label)
            if reuse is not None and t > 0 and not np.array_equal(reuse, sets[-1]):
                chosen = reuse  # a repeated section (chorus) returns to its anchors
            else:
                chosen = self._draw_set(logits, k, previous=sets[-1] if sets else None)
                by_label.setdefault(label, chosen)
            sets.append(chosen)
        return sets

    @staticmethod
    def _draw_set(logits: np.ndarray, k: int, *, previous: np.ndarray | None) -> np.ndarray:
        """Top-``k`` anchors by (Gumbel-perturbed) logits, as many as possible new after
        ``previous`` so that a new scene looks new; the order (= drift order) is by logit, so
        even a repeated set starts from a different anchor."""
        order = np.argsort(-logits, kind="stable")
        if previous is None:
            return order[:k]
        fresh = order[~np.isin(order, previous)]
        n_new = min(k, len(fresh))
        chosen = np.concatenate([fresh[:n_new], order[np.isin(order, previous)][: k - n_new]])
        if n_new == 0 and np.array_equal(chosen, previous) and k > 1:
            chosen = np.roll(chosen, 1)
        return chosen

    def _anchor_pitch_classes(self, meta: Any) -> np.ndarray:
        """Pitch class per anchor: from its hue (circle of fifths), else seeded."""
        rng = np.random.default_rng(motion.name_seed(self.seed, "pitch"))
        fallback = rng.integers(0, 12, len(meta.anchors))
        return np.array(
            [
                motion.pitch_class_of_hue(a.stats["hue_deg"]) if "hue_deg" in a.stats else fb
                for a, fb in zip(meta.anchors, fallback, strict=True)
            ]
        )

    def _scene_weights(
        self, chosen: np.ndarray, chroma: np.ndarray, lo: int, hi: int
    ) -> np.ndarray:
        """``[hi-lo, M]`` weights of one anchor set over frames lo..hi (rows sum to one)."""
        m = self.settings.motion
        k = len(chosen)
        offsets = np.arange(k) / k
        logits = m.focus * np.cos(2 * np.pi * (self._phase[lo:hi, None] - offsets[None, :]))
        logits = logits + m.chroma_anchor * chroma[lo:hi][:, self._pitch[chosen]]
        out = np.zeros((hi - lo, len(self.base_weights)))
        out[:, chosen] = motion.softmax(logits, axis=1)
        return out

    def _anchor_weights(self, chroma: np.ndarray) -> np.ndarray:
        n, bounds = self.n_frames, [*self.scene_frames, self.n_frames]
        weights = np.zeros((n, len(self.base_weights)))
        fade = int(round(self.settings.motion.crossfade * self.fps))
        for s, chosen in enumerate(self.scene_sets):
            lo, hi = bounds[s], bounds[s + 1]
            weights[lo:hi] = self._scene_weights(chosen, chroma, lo, hi)
            end = min(lo + fade, hi)
            if s > 0 and end > lo:
                old = self._scene_weights(self.scene_sets[s - 1], chroma, lo, end)
                u = (np.arange(end - lo) + 1.0) / fade
                x = (1.0 - (1.0 - u) ** 2)[:, None]  # ease-out: most change right at the cut
                weights[lo:end] = (1.0 - x) * old + x * weights[lo:end]
        return weights

    # ------------------------------------------------------------------ public API
    def _range(self, start: int, stop: int) -> slice:
        if not 0 <= start <= stop <= self.n_frames:
            raise ValueError(f"frame range {start}..{stop} outside 0..{self.n_frames}")
        return slice(start, stop)

    def weights(self, start: int, stop: int) -> np.ndarray:
        """Anchor weights ``[stop-start, M]`` (rows sum to one; columns follow ``anchor_ids``)."""
        return self._weights[self._range(start, stop)].copy()

    def wander(self, start: int, stop: int) -> np.ndarray:
        """Wander noise ``[stop-start, D]`` float32, norm ≤ wander_scale·√D (pure in frame index)."""
        sl = self._range(start, stop)
        s = self.settings
        t = np.arange(sl.start, sl.stop, dtype=np.float64)[:, None, None] / self.fps
        basis = self._wander
        arg = 2 * np.pi * s.wander_speed * basis.freq[None] * t + basis.phase[None]
        coeffs = np.sin(arg).mean(axis=2)  # [n, J], each in [-1, 1]
        share = s.motion.energy_wander
        amp = s.wander_scale * (1.0 - share + share * self._energy[sl])
        coeffs *= (amp * self._unit / np.sqrt(len(basis.dirs)))[:, None]
        coeffs = coeffs.astype(np.float32)
        out = np.zeros((len(coeffs), self._anchors.shape[1]), dtype=np.float32)
        for j, direction in enumerate(basis.dirs):  # elementwise: identical for any slice
            out += coeffs[:, j, None] * direction[None, :]
        return out

    def latents(self, start: int, stop: int) -> np.ndarray:
        """Latents ``[stop-start, C, h, w]`` float32 for frames start..stop (a pure slice)."""
        sl = self._range(start, stop)
        w = self._weights[sl].astype(np.float32)
        z = np.zeros((len(w), self._anchors.shape[1]), dtype=np.float32)
        for a in self._active:  # fixed order and set, so chunks add exactly what the whole does
            z += w[:, a, None] * self._anchors[a][None, :]
        z += self.wander(sl.start, sl.stop)
        m = self.settings.motion
        kicks = (m.pulse_strength * self._kicks[sl]).astype(np.float32)
        for j, direction in enumerate(self._kick_dirs):  # elementwise: identical for any slice
            z += kicks[:, j, None] * direction[None, :]
        if m.scene_motion > 0 and self._burst[sl].any():
            t = np.arange(sl.start, sl.stop, dtype=np.float64) / self.fps
            amp = m.scene_motion * self._unit / np.sqrt(len(self._sweep.dirs)) * self._burst[sl]
            coeffs = (sweep(self._sweep, t) * amp[:, None]).astype(np.float32)
            for j, direction in enumerate(self._sweep.dirs):
                z += coeffs[:, j, None] * direction[None, :]
        target = np.sqrt(np.sum(self._weights[sl] * self._sq_norms[None, :], axis=1))
        norm = np.sqrt(np.sum(z.astype(np.float64) ** 2, axis=1))
        z *= (target / np.maximum(norm, 1e-12)).astype(np.float32)[:, None]
        return z.reshape(len(z), *self._shape)

    def signals(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Per-frame controls in [0, 1] for postfx: ``pulse``, ``energy``, ``scene_cut``, ``hue``."""
        sl = self._range(start, stop)
        return {
            "pulse": self._pulse[sl].astype(np.float32),
            "energy": self._energy[sl].astype(np.float32),
            "scene_cut": self._scene_cut[sl].astype(np.float32),
            "hue": self._hue[sl].astype(np.float32),
        }

    def describe(self) -> dict[str, Any]:
        """JSON-able summary for meta.json: scenes, their anchors, preference weights."""
        return {
            "n_frames": self.n_frames,
            "fps": self.fps,
            "latent_shape": list(self._shape),
            "scenes": [
                {"frame": int(f), "anchors": [self.anchor_ids[i] for i in chosen]}
                for f, chosen in zip(self.scene_frames, self.scene_sets, strict=True)
            ],
            "anchor_preference": {
                aid: round(float(wt), 6)
                for aid, wt in zip(self.anchor_ids, self.base_weights, strict=True)
            },
        }
