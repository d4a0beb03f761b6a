"""Reaction–diffusion bucket: Gray–Scott on a small torus, or spectral Turing synthesis.

Gray–Scott runs at 128² with a 9-point Laplacian (cv2.filter2D, wrap-around) so a few thousand
steps cost ~0.2 s; the spectral variant thresholds ring-filtered noise, which is what a Turing
system converges to, in a few milliseconds. Both are coloured by a gradient map with relief light.
"""

from __future__ import annotations

import cv2
import numpy as np

from training.procedural.noise import (
    bandpass_noise,
    normalise,
    shade,
    spectral_noise,
    upsample,
    warp,
)
from training.procedural.palettes import gradient_map, pick_palette, to_uint8

# (feed, kill) from Pearson's classification: mitosis, coral, maze, worms, fingerprints, spots.
REGIMES = (
    (0.0367, 0.0649),
    (0.0545, 0.062),
    (0.029, 0.057),
    (0.078, 0.061),
    (0.037, 0.06),
    (0.03, 0.062),
)
_LAPLACE = np.array([[0.05, 0.2, 0.05], [0.2, -1.0, 0.2], [0.05, 0.2, 0.05]], np.float32)


def _laplace(field: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """3×3 stencil on a torus (filter2D has no wrap border, so pad by one cell first)."""
    padded = cv2.copyMakeBorder(field, 1, 1, 1, 1, cv2.BORDER_WRAP)
    return cv2.filter2D(padded, -1, kernel)[1:-1, 1:-1]


def gray_scott(rng: np.random.Generator, *, n: int = 128) -> np.ndarray:
    """Concentration ``v`` ``[n, n]`` in [0, 1] after a Gray–Scott run from random seeds."""
    feed, kill = REGIMES[int(rng.integers(len(REGIMES)))]
    u = np.ones((n, n), np.float32)
    v = np.zeros((n, n), np.float32)
    # Many small seeds spread over the torus, so no run dies out before patterns fill the frame.
    for _ in range(int(rng.integers(20, 60))):
        y, x, r = int(rng.integers(0, n)), int(rng.integers(0, n)), int(rng.integers(2, 5))
        u[max(y - r, 0) : y + r, max(x - r, 0) : x + r] = 0.5
        v[max(y - r, 0) : y + r, max(x - r, 0) : x + r] = 0.25
    v += rng.uniform(0, 0.05, (n, n)).astype(np.float32)
    # Anisotropic diffusion (a stretched kernel) gives directional stripes some of the time.
    kernel = _LAPLACE
    if rng.random() < 0.3:
        kernel = np.array(
            [[0.025, 0.15, 0.025], [0.3, -1.0, 0.3], [0.025, 0.15, 0.025]], np.float32
        )
    du, dv = 1.0, 0.5
    for _ in range(int(rng.integers(2000, 2800))):
        lap_u = _laplace(u, kernel)
        lap_v = _laplace(v, kernel)
        uvv = u * v * v
        u += du * lap_u - uvv + feed * (1 - u)
        v += dv * lap_v + uvv - (feed + kill) * v
    return normalise(v)


def turing_spectral(rng: np.random.Generator, *, size: int) -> np.ndarray:
    """Labyrinths/spots ``[size, size]`` in [0, 1]: ring-filtered noise through a steep sigmoid."""
    freq = rng.uniform(0.03, 0.09)
    field = bandpass_noise(size, rng, freq=freq, width=freq * rng.uniform(0.08, 0.2))
    if rng.random() < 0.5:  # bend the pattern with a slow warp so stripes meander
        amp = rng.uniform(5, 20)
        field = warp(field, (spectral_noise(size, rng, beta=4) - 0.5) * amp,
                     (spectral_noise(size, rng, beta=4) - 0.5) * amp)  # fmt: skip
    bias = rng.uniform(-0.12, 0.12)  # off-centre thresholds give spots instead of mazes
    sharp = rng.uniform(10, 30)
    return (1.0 / (1.0 + np.exp(-sharp * (field - field.mean() - bias)))).astype(np.float32)


def reaction_diffusion(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """One reaction–diffusion image ``[size, size, 3]`` uint8."""
    if rng.random() < 0.6:
        t = upsample(gray_scott(rng), size)
        if t.std() < 0.05:  # a pattern that died: fall back to the spectral form
            t = turing_spectral(rng, size=size)
    else:
        t = turing_spectral(rng, size=size)
    t = normalise(cv2.GaussianBlur(t, (0, 0), 0.7))
    stops = pick_palette(rng)
    rgb = gradient_map(t, stops)
    light = shade(
        cv2.GaussianBlur(t, (0, 0), 1.5), strength=rng.uniform(0.1, 0.3), angle=rng.uniform(0, 6.3)
    )
    tone = 0.85 + 0.3 * upsample(spectral_noise(32, rng, beta=3.0), size)
    return to_uint8(rgb * (light * tone)[..., None])
