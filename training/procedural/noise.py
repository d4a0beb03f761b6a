"""Seeded noise primitives shared by the bucket generators (all periodic, float32 in [0, 1])."""

from __future__ import annotations

import cv2
import numpy as np


def normalise(field: np.ndarray) -> np.ndarray:
    """Rescale ``field`` to [0, 1] (a constant field becomes zeros)."""
    lo, hi = float(field.min()), float(field.max())
    return ((field - lo) / (hi - lo + 1e-12)).astype(np.float32)


def spectral_noise(
    size: int, rng: np.random.Generator, *, beta: float = 3.0, aspect: float = 1.0
) -> np.ndarray:
    """Periodic 1/f^β (fBm-like) noise ``[size, size]`` in [0, 1]; ``aspect`` > 1 stretches
    features horizontally."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :] * aspect
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0
    amp = radius ** (-beta / 2)
    amp[0, 0] = 0.0
    phase = rng.uniform(0, 2 * np.pi, amp.shape)
    return normalise(np.fft.irfft2(amp * np.exp(1j * phase), s=(size, size)))


def bandpass_noise(size: int, rng: np.random.Generator, *, freq: float, width: float) -> np.ndarray:
    """Noise ``[size, size]`` whose spectrum is a ring at ``freq`` cycles/pixel (Turing-like)."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    amp = np.exp(-0.5 * ((radius - freq) / width) ** 2)
    phase = rng.uniform(0, 2 * np.pi, amp.shape)
    return normalise(np.fft.irfft2(amp * np.exp(1j * phase), s=(size, size)))


def warp(field: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Bilinear sample of ``field`` ``[H, W]`` (or ``[H, W, C]``) at (x + dx, y + dy), wrapping."""
    h, w = field.shape[:2]
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        field.astype(np.float32),
        xx + dx.astype(np.float32),
        yy + dy.astype(np.float32),
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_WRAP,
    )


def upsample(img: np.ndarray, size: int) -> np.ndarray:
    """Bicubic resize to ``size``² (float32)."""
    return cv2.resize(img.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)


def worley(size: int, rng: np.random.Generator, *, points: int, mode: str = "f1") -> np.ndarray:
    """Periodic cellular noise ``[size, size]``: distance to the nearest feature point (``f1``) or
    the gap to the second nearest (``f2-f1``, bright cell walls)."""
    from scipy.spatial import cKDTree

    pts = rng.uniform(0, size, (points, 2))
    tiled = np.concatenate([pts + [dy, dx] for dy in (-size, 0, size) for dx in (-size, 0, size)])
    yy, xx = np.mgrid[0:size, 0:size]
    dist, _ = cKDTree(tiled).query(np.stack([yy.ravel(), xx.ravel()], axis=1), k=2)
    field = dist[:, 1] - dist[:, 0] if mode == "f2-f1" else dist[:, 0]
    return normalise(field.reshape(size, size))


def curl_flow(
    size: int, rng: np.random.Generator, *, beta: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """Divergence-free unit-ish flow ``(vx, vy)`` ``[size, size]`` from the curl of a potential."""
    psi = spectral_noise(size, rng, beta=beta)
    gy, gx = np.gradient(psi)
    vx, vy = gy, -gx
    mag = np.sqrt(vx**2 + vy**2).mean() + 1e-9
    return (vx / mag).astype(np.float32), (vy / mag).astype(np.float32)


def streaks(
    texture: np.ndarray, vx: np.ndarray, vy: np.ndarray, *, steps: int = 12, step: float = 1.5
) -> np.ndarray:
    """Line-integral convolution: average ``texture`` along the flow both ways (streaks)."""
    acc = texture.astype(np.float32).copy()
    fwd = bwd = texture.astype(np.float32)
    for _ in range(steps):
        fwd = warp(fwd, vx * step, vy * step)
        bwd = warp(bwd, -vx * step, -vy * step)
        acc += fwd + bwd
    return acc / (2 * steps + 1)


def shade(height: np.ndarray, *, strength: float, angle: float) -> np.ndarray:
    """Lambert-like relief light ``[H, W]`` around 1.0 from a height field (gives paint depth)."""
    gy, gx = np.gradient(height.astype(np.float32))
    light = np.cos(angle) * gx + np.sin(angle) * gy
    return (1.0 + strength * light / (np.abs(light).max() + 1e-9)).astype(np.float32)
