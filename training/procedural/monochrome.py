"""Monochrome-noise bucket: fBm, ridged multifractal, cellular (Worley) and turbulence fields,
with film grain and a faint tint (warm paper, cool silver or neutral)."""

from __future__ import annotations

import numpy as np

from training.procedural.noise import normalise, spectral_noise, warp, worley
from training.procedural.palettes import to_uint8

TINTS = (
    (1.0, 1.0, 1.0),
    (1.04, 1.0, 0.92),  # warm paper
    (0.94, 0.98, 1.05),  # cool silver
    (1.02, 0.97, 0.9),  # sepia
)


def fbm(rng: np.random.Generator, size: int) -> np.ndarray:
    return spectral_noise(size, rng, beta=rng.uniform(2.4, 3.8))


def ridged(rng: np.random.Generator, size: int) -> np.ndarray:
    t = 1.0 - np.abs(2 * spectral_noise(size, rng, beta=rng.uniform(3.0, 3.8)) - 1)
    return normalise(t ** rng.uniform(2.0, 5.0))


def cellular(rng: np.random.Generator, size: int) -> np.ndarray:
    mode = "f2-f1" if rng.random() < 0.5 else "f1"
    t = worley(size, rng, points=int(rng.integers(12, 90)), mode=mode)
    if rng.random() < 0.5:  # organic, slightly warped cells
        amp = rng.uniform(4, 14)
        t = warp(
            t,
            (spectral_noise(size, rng, beta=3) - 0.5) * amp,
            (spectral_noise(size, rng, beta=3) - 0.5) * amp,
        )
    return t if rng.random() < 0.5 else 1.0 - t


def turbulence(rng: np.random.Generator, size: int) -> np.ndarray:
    t = np.abs(2 * spectral_noise(size, rng, beta=rng.uniform(2.2, 3.0)) - 1)
    amp = rng.uniform(10, 40)
    return normalise(
        warp(
            t,
            (spectral_noise(size, rng, beta=3.5) - 0.5) * amp,
            (spectral_noise(size, rng, beta=3.5) - 0.5) * amp,
        )
    )


FAMILIES = (fbm, ridged, cellular, turbulence)


def monochrome_noise(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """One near-greyscale noise image ``[size, size, 3]`` uint8."""
    t = FAMILIES[int(rng.integers(len(FAMILIES)))](rng, size)
    # A contrast stretch around the median plus a gamma keeps both ink-dark and airy variants.
    t = np.clip((t - np.median(t)) * rng.uniform(0.9, 1.4) + 0.5, 0, 1) ** rng.uniform(0.8, 1.4)
    grain = rng.normal(0, rng.uniform(0.01, 0.05), (size, size)).astype(np.float32)
    lum = np.clip(t + grain, 0, 1)
    tint = np.array(TINTS[int(rng.integers(len(TINTS)))], np.float32)
    return to_uint8(np.clip(lum[..., None] * tint, 0, 1))
