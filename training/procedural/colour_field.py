"""Colour-field bucket: soft-edged stacked rectangles, soak-stain gradients and banded fields,
with brush and canvas texture — the look of colour-field painting rather than flat vector blocks."""

from __future__ import annotations

import cv2
import numpy as np

from training.procedural.noise import spectral_noise, upsample, warp
from training.procedural.palettes import gradient_map, pick_palette, to_uint8


def _soft_box(
    size: int, rng: np.random.Generator, y0: float, y1: float, x0: float, x1: float
) -> np.ndarray:
    """Mask ``[size, size]`` of a rectangle with blurred, slightly ragged edges."""
    mask = np.zeros((size, size), np.float32)
    mask[int(y0 * size) : int(y1 * size), int(x0 * size) : int(x1 * size)] = 1.0
    amp = rng.uniform(2, 6)
    mask = warp(mask, (spectral_noise(size, rng, beta=2.2) - 0.5) * amp,
                (spectral_noise(size, rng, beta=2.2) - 0.5) * amp)  # fmt: skip
    return cv2.GaussianBlur(mask, (0, 0), rng.uniform(3, 9))


def stacked(rng: np.random.Generator, size: int, stops: np.ndarray) -> np.ndarray:
    """Rothko-like: two or three soft rectangles stacked on a ground colour."""
    order = rng.permutation(len(stops))
    img = np.broadcast_to(stops[order[0]], (size, size, 3)).astype(np.float32).copy()
    n = int(rng.integers(2, 4))
    margin_x, top, bottom = rng.uniform(0.07, 0.15), rng.uniform(0.05, 0.1), rng.uniform(0.9, 0.95)
    weights = rng.uniform(0.5, 1.5, n)
    edges = top + np.r_[0.0, np.cumsum(weights) / weights.sum()] * (bottom - top)
    for i in range(n):
        gap = rng.uniform(0.015, 0.035)
        mask = _soft_box(size, rng, edges[i] + gap, edges[i + 1] - gap, margin_x, 1 - margin_x)
        colour = stops[order[1 + i % (len(stops) - 1)]] * rng.uniform(0.9, 1.08)
        img = img * (1 - mask[..., None]) + colour * mask[..., None]
    if rng.random() < 0.3:  # some compositions read better as vertical panels
        img = np.ascontiguousarray(np.rot90(img))
    return img


def stain(rng: np.random.Generator, size: int, stops: np.ndarray) -> np.ndarray:
    """Soak-stain fields: very low-frequency noise through the palette, pooled edges."""
    t = spectral_noise(size, rng, beta=rng.uniform(4.0, 5.0))
    levels = rng.integers(3, 6)
    t = np.round(t * levels) / levels  # pooled pigment…
    t = cv2.GaussianBlur(t, (0, 0), rng.uniform(4, 10))  # …with soaked edges
    return gradient_map(np.clip(t, 0, 1), stops)


def bands(rng: np.random.Generator, size: int, stops: np.ndarray) -> np.ndarray:
    """Horizontal bands of related colour with soft seams (and an occasional thin 'zip')."""
    n = int(rng.integers(2, 5))
    cuts = np.sort(rng.uniform(0, 1, n - 1))
    y = np.linspace(0, 1, size, dtype=np.float32)
    idx = np.searchsorted(cuts, y)
    colours = stops[rng.permutation(len(stops))[:n]]
    column = colours[idx]
    img = np.broadcast_to(column[:, None, :], (size, size, 3)).astype(np.float32).copy()
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(2, 6))
    if rng.random() < 0.4:
        x = int(rng.integers(size // 5, 4 * size // 5))
        w = int(rng.integers(2, 6))
        img[:, x : x + w] = img[:, x : x + w] * 0.4 + stops[int(rng.integers(len(stops)))] * 0.6
        img = cv2.GaussianBlur(img, (0, 0), 1.0)
    return np.ascontiguousarray(np.rot90(img)) if rng.random() < 0.3 else img


def colour_field(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """One colour-field image ``[size, size, 3]`` uint8."""
    stops = pick_palette(rng, hue_jitter=15.0)
    kind = int(rng.choice(3, p=[0.5, 0.25, 0.25]))
    img = (stacked, stain, bands)[kind](rng, size, stops)
    # Brush strokes: noise stretched along one axis modulates the paint density.
    brush = spectral_noise(size, rng, beta=2.0, aspect=rng.uniform(4, 10)) - 0.5
    if rng.random() < 0.5:
        brush = brush.T
    tone = 0.9 + 0.2 * upsample(spectral_noise(32, rng, beta=3.0), size)
    canvas = spectral_noise(size, rng, beta=0.8) - 0.5
    img = img * (tone * (1 + 0.12 * brush))[..., None] + 0.035 * canvas[..., None]
    yy, xx = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    vignette = 1 - rng.uniform(0.05, 0.2) * (xx**2 + yy**2) / 2
    return to_uint8(img * vignette[..., None].astype(np.float32))
