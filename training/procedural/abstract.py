"""Abstract bucket: domain-warped fractal noise, curl-noise flow streaks and marbled bands."""

from __future__ import annotations

import cv2
import numpy as np

from training.procedural.noise import curl_flow, normalise, shade, spectral_noise, streaks, warp
from training.procedural.palettes import gradient_map, pick_palette, to_uint8


def domain_warped(rng: np.random.Generator, size: int) -> np.ndarray:
    """``f(p + s·g(p + s·h(p)))`` fBm (Quílez's nested warp) ``[size, size]`` in [0, 1]."""
    base = spectral_noise(size, rng, beta=rng.uniform(2.6, 3.6))
    strength = rng.uniform(25, 70)
    field = base
    for _ in range(2):
        wx = spectral_noise(size, rng, beta=3.6) - 0.5
        wy = spectral_noise(size, rng, beta=3.6) - 0.5
        field = warp(field, wx * strength, wy * strength)
        strength *= 0.6
    return normalise(field)


def flow_streaks(rng: np.random.Generator, size: int) -> np.ndarray:
    """Line-integral streaks of speckle along a curl-noise flow ``[size, size]`` in [0, 1]."""
    vx, vy = curl_flow(size, rng, beta=rng.uniform(3.5, 4.5))
    speckle = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 0.8)
    lic = normalise(streaks(speckle, vx, vy, steps=10, step=1.6))
    lic = np.clip((lic - 0.5) * 2.5 + 0.5, 0, 1)
    colour = spectral_noise(size, rng, beta=3.5)
    return normalise(0.55 * colour + 0.45 * lic)


def marbled(rng: np.random.Generator, size: int) -> np.ndarray:
    """Marbled bands: a sine ramp pushed around by warped noise ``[size, size]`` in [0, 1]."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, np.pi)
    ramp = np.cos(angle) * xx + np.sin(angle) * yy
    noise = domain_warped(rng, size)
    bands = rng.uniform(2, 6)
    return (0.5 + 0.5 * np.sin(2 * np.pi * (bands * ramp + rng.uniform(1, 2.5) * noise))).astype(
        np.float32
    )


def abstract(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """One abstract image ``[size, size, 3]`` uint8."""
    kind = rng.choice(3, p=[0.4, 0.35, 0.25])
    t = (domain_warped, flow_streaks, marbled)[int(kind)](rng, size)
    t = np.clip((t - 0.5) * rng.uniform(1.0, 1.5) + 0.5, 0, 1)
    rgb = gradient_map(t, pick_palette(rng))
    light = shade(
        cv2.GaussianBlur(t, (0, 0), 2.0), strength=rng.uniform(0.0, 0.25), angle=rng.uniform(0, 6.3)
    )
    glow = 0.8 + 0.35 * spectral_noise(size, rng, beta=4.0)
    return to_uint8(rgb * (light * glow)[..., None])
