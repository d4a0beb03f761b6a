"""Small synthetic FrameFeatures / Analysis / ModelMeta for the controller and metrics tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from renderer.analysis import Analysis, Segment
from renderer.audio.features import FrameFeatures
from renderer.decode.model_meta import Anchor, ModelMeta

HUES = (0.0, 45.0, 120.0, 200.0, 260.0, 320.0)


def make_meta(
    *, n_anchors: int = 6, channels: int = 8, seed: int = 0, pca: bool = True
) -> ModelMeta:
    """Anchors ~N(0, 1) [C, 16, 16] with varied stats/tags; PCA axes orthonormal [C, C]."""
    rng = np.random.default_rng(seed)
    anchors = []
    for i in range(n_anchors):
        luma = i / max(n_anchors - 1, 1)
        anchors.append(
            Anchor(
                id=f"anchor-{i:02d}",
                latent=rng.standard_normal((channels, 16, 16)).astype(np.float32),
                stats={
                    "luma": luma,
                    "saturation": 1.0 - luma,
                    "warmth": float(np.cos(np.radians(HUES[i % len(HUES)]))),
                    "hue_deg": HUES[i % len(HUES)],
                    "contrast": 0.2 + 0.1 * (i % 3),
                    "texture": 0.5,
                },
                tags=("dark",) if luma < 0.4 else ("bright",),
                seed=i,
            )
        )
    axes = (
        np.linalg.qr(rng.standard_normal((channels, channels)))[0].T
        if pca
        else np.zeros((0, channels))
    )
    return ModelMeta(
        model_dir=Path("."),
        latent_channels=channels,
        base_latent_hw=(16, 16),
        scale=16,
        anchors=tuple(anchors),
        pca_axes=axes.astype(np.float32),
        artefacts={},
        generator_config={},
    )


def make_frames(
    *, seconds: float = 12.0, fps: float = 30.0, bpm: float = 120.0, seed: int = 1
) -> FrameFeatures:
    """Onsets and percussive hits on every beat, slowly varying rms/harmonic, rotating chroma."""
    n = int(round(seconds * fps))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    beat_frames = np.round(np.arange(0.0, seconds, 60.0 / bpm) * fps).astype(int)
    onset = 0.05 * rng.random(n)
    onset[beat_frames[beat_frames < n]] = 1.0
    percussive = onset.copy()
    chroma = np.zeros((n, 12))
    chroma[np.arange(n), (np.arange(n) // int(2 * fps)) % 12] = 1.0
    slow = 0.5 + 0.5 * np.sin(2 * np.pi * t / seconds)
    return FrameFeatures(
        fps=fps,
        n_frames=n,
        duration=n / fps,
        rms=slow.astype(np.float32),
        centroid=slow.astype(np.float32),
        flatness=np.zeros(n, np.float32),
        onset=onset.astype(np.float32),
        harmonic=(1 - slow).astype(np.float32),
        percussive=percussive.astype(np.float32),
        mfcc=np.zeros((n, 8), np.float32),
        chroma=chroma.astype(np.float32),
    )


def make_analysis(
    *, seconds: float = 12.0, bpm: float = 120.0, sections=(0.0, 4.0, 8.0)
) -> Analysis:
    beats = np.arange(0.0, seconds, 60.0 / bpm)
    bounds = [*sections, seconds]
    labels = "ABACAD"
    return Analysis(
        duration=seconds,
        tempo=bpm,
        beats=beats,
        downbeats=beats[::4],
        key="Am",
        key_confidence=0.8,
        chords=[
            Segment(float(s), float(s) + 2.0, "Am" if i % 2 else "F#")
            for i, s in enumerate(np.arange(0, seconds, 2.0))
        ],
        sections=[
            Segment(float(a), float(b), labels[i])
            for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
        ],
    )
