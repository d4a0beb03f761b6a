"""Abstract cover art: a 512×512 RGB image per track from seeded interference patterns (no text).

Each cover layers a few plane and radial waves whose sum is mapped through a three-colour palette
built around the track's ``hue``, then darkened towards the edges; the seed picks the wave
directions and frequencies, so the same track always gets the same picture.
"""

from __future__ import annotations

import colorsys
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 512


def palette(hue: float) -> np.ndarray:
    """Dark, mid and bright sRGB colours [3, 3] (0..255) around ``hue`` in [0, 1)."""
    stops = ((hue, 0.8, 0.12), ((hue + 0.04) % 1, 0.75, 0.65), ((hue + 0.5) % 1, 0.35, 0.97))
    return np.array([colorsys.hsv_to_rgb(h, s, v) for h, s, v in stops]) * 255.0


def cover(*, seed: int, hue: float, size: int = SIZE) -> np.ndarray:
    """Cover image uint8 ``[size, size, 3]`` drawn from ``seed`` in colours around ``hue``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA27]))
    axis = np.linspace(-1.0, 1.0, size)
    x, y = np.meshgrid(axis, axis)
    field = np.zeros((size, size))
    for _ in range(4):  # plane waves
        angle = rng.uniform(0, np.pi)
        freq = rng.uniform(3.0, 11.0)
        field += np.sin(freq * np.pi * (x * np.cos(angle) + y * np.sin(angle)) + rng.uniform(0, 6))
    for _ in range(2):  # radial waves from off-centre sources: the "interference" rings
        cx, cy = rng.uniform(-0.6, 0.6, size=2)
        r = np.hypot(x - cx, y - cy)
        field += 1.5 * np.sin(rng.uniform(12.0, 30.0) * r) * np.exp(-1.5 * r)
    # Rank-normalise so every cover spans the palette's whole range.
    v = np.argsort(np.argsort(field, axis=None)).reshape(field.shape) / field.size
    v = 0.5 - 0.5 * np.cos(np.pi * v**1.4)
    dark, mid, bright = palette(hue)
    lo = np.clip(v * 2, 0, 1)[..., None]
    hi = np.clip(v * 2 - 1, 0, 1)[..., None]
    rgb = dark + (mid - dark) * lo + (bright - mid) * hi
    vignette = 1.0 - 0.45 * np.clip(np.hypot(x, y) / np.sqrt(2), 0, 1) ** 2
    return np.clip(rgb * vignette[..., None], 0, 255).astype(np.uint8)


def write_cover(path: str | Path, *, seed: int, hue: float) -> Path:
    """Write the cover PNG to ``path`` (parents created, atomic rename); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    Image.fromarray(cover(seed=seed, hue=hue)).save(tmp, format="PNG", optimize=True)
    tmp.replace(path)
    return path
