"""Procedural abstract images for the five prompt buckets (the offline stand-in for SD 1.5).

Every generator is a pure function of a ``numpy.random.Generator`` and returns uint8 ``[S, S, 3]``.
Buckets (matching ``training/prompts.yaml``):

- ``reaction-diffusion``: Gray–Scott on a 128² torus (feed/kill sampled from the spot/stripe/maze
  regimes), coloured through a cosine palette and upsampled;
- ``abstract``: domain-warped spectral (1/f^β) noise through a cosine palette, with flow streaks;
- ``colour-field``: soft-edged colour planes in the manner of colour-field painting, with canvas
  texture and gradients;
- ``glitch``: an abstract/RD image run through pixel sorting, channel displacement and block shifts;
- ``monochrome-noise``: fBm, ridged and cellular (Worley) noise families in near-greyscale tints.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

BUCKETS = ("abstract", "glitch", "colour-field", "reaction-diffusion", "monochrome-noise")


# ------------------------------------------------------------------------------------ primitives
def cosine_palette(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Map ``t`` ``[H, W]`` in [0, 1] to RGB floats via ``a + b·cos(2π(c·t + d))`` (Quílez)."""
    a = rng.uniform(0.35, 0.65, 3)
    b = rng.uniform(0.25, 0.5, 3)
    c = rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]) * rng.uniform(0.8, 1.2, 3)
    d = rng.uniform(0.0, 1.0, 3)
    rgb = a + b * np.cos(2 * np.pi * (c * t[..., None] + d))
    return np.clip(rgb, 0.0, 1.0)


def spectral_noise(size: int, rng: np.random.Generator, *, beta: float = 3.0) -> np.ndarray:
    """Periodic 1/f^β noise ``[size, size]`` normalised to [0, 1]."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.sqrt(fx**2 + fy**2)
    radius[0, 0] = 1.0
    amp = radius ** (-beta / 2)
    amp[0, 0] = 0.0
    phase = rng.uniform(0, 2 * np.pi, amp.shape)
    field = np.fft.irfft2(amp * np.exp(1j * phase), s=(size, size))
    field -= field.min()
    return field / (field.max() + 1e-12)


def _warp(field: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Sample ``field`` at (y + dy, x + dx) with wrap-around (nearest-neighbour, vectorised)."""
    size = field.shape[0]
    yy, xx = np.mgrid[0:size, 0:size]
    return field[(yy + dy).astype(int) % size, (xx + dx).astype(int) % size]


def _upsample(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(img.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)


def _to_uint8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------- generators
def reaction_diffusion(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    n = 128
    # (feed, kill) from Pearson's classification: mitosis, coral, maze, worms, bubbles.
    regimes = [(0.0367, 0.0649), (0.0545, 0.062), (0.029, 0.057), (0.078, 0.061), (0.039, 0.058)]
    feed, kill = regimes[rng.integers(len(regimes))]
    u = np.ones((n, n), np.float32)
    v = np.zeros((n, n), np.float32)
    for _ in range(int(rng.integers(8, 30))):  # square seeds of the catalyst
        y, x, r = int(rng.integers(0, n)), int(rng.integers(0, n)), int(rng.integers(2, 6))
        u[y - r : y + r, x - r : x + r] = 0.5
        v[y - r : y + r, x - r : x + r] = 0.25
    v += rng.uniform(0, 0.02, (n, n)).astype(np.float32)
    for _ in range(int(rng.integers(2200, 3200))):
        lap_u = np.roll(u, 1, 0) + np.roll(u, -1, 0) + np.roll(u, 1, 1) + np.roll(u, -1, 1) - 4 * u
        lap_v = np.roll(v, 1, 0) + np.roll(v, -1, 0) + np.roll(v, 1, 1) + np.roll(v, -1, 1) - 4 * v
        uvv = u * v * v
        u += 0.2 * lap_u - uvv + feed * (1 - u)
        v += 0.1 * lap_v + uvv - (feed + kill) * v
    t = (v - v.min()) / (np.ptp(v) + 1e-9)
    t = _upsample(t, size)
    shade = 0.85 + 0.15 * _upsample(spectral_noise(64, rng, beta=3.0), size)
    return _to_uint8(cosine_palette(np.clip(t, 0, 1), rng) * shade[..., None])


def abstract(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    base = spectral_noise(size, rng, beta=rng.uniform(2.4, 3.6))
    wx = spectral_noise(size, rng, beta=3.5) - 0.5
    wy = spectral_noise(size, rng, beta=3.5) - 0.5
    strength = rng.uniform(20, 90)
    warped = _warp(base, wx * strength, wy * strength)
    warped = _warp(warped, np.sin(wy * 6) * strength * 0.3, np.cos(wx * 6) * strength * 0.3)
    import cv2

    warped = cv2.GaussianBlur(warped.astype(np.float32), (0, 0), 1.2)
    t = (warped - warped.min()) / (np.ptp(warped) + 1e-9)
    bands = rng.uniform(1.0, 3.0)
    rgb = cosine_palette(np.clip(t * bands % 1.0 if rng.random() < 0.4 else t, 0, 1), rng)
    light = 0.75 + 0.25 * spectral_noise(size, rng, beta=4.0)
    return _to_uint8(rgb * light[..., None])


def colour_field(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    import cv2

    palette = cosine_palette(np.linspace(0, 1, 8)[None, :], rng)[0]
    img = np.ones((size, size, 3), np.float32) * palette[rng.integers(8)]
    img *= (0.8 + 0.4 * _upsample(spectral_noise(32, rng, beta=2.0), size))[..., None]
    n_fields = int(rng.integers(2, 4))
    cuts = np.sort(rng.uniform(0.1, 0.9, n_fields - 1))
    bounds = np.r_[0.06, cuts, 0.94]
    margin = rng.uniform(0.06, 0.14)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        mask = np.zeros((size, size), np.float32)
        gap = rng.uniform(0.01, 0.03)
        mask[
            int((a + gap) * size) : int((b - gap) * size),
            int(margin * size) : int((1 - margin) * size),
        ] = 1
        mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(3, 10))
        ragged = 0.85 + 0.3 * _upsample(spectral_noise(64, rng, beta=1.5), size)
        mask = np.clip(mask * ragged, 0, 1)
        colour = palette[rng.integers(8)] * rng.uniform(0.8, 1.15)
        img = img * (1 - mask[..., None]) + colour * mask[..., None]
    if rng.random() < 0.5:
        img = np.rot90(img, int(rng.integers(1, 4))).copy()
    texture = spectral_noise(size, rng, beta=1.4) - 0.5
    return _to_uint8(img + 0.08 * texture[..., None])


def glitch(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    img = (abstract if rng.random() < 0.6 else colour_field)(rng, size).copy()
    luma = img.astype(np.float32).mean(axis=2)
    threshold = rng.uniform(60, 170)
    for y in range(size):  # pixel sorting of bright runs, row by row
        row = luma[y] > threshold
        if row.any() and rng.random() < 0.8:
            start = int(np.argmax(row))
            stop = size - int(np.argmax(row[::-1]))
            order = np.argsort(luma[y, start:stop])
            img[y, start:stop] = img[y, start:stop][order]
    for c, shift in zip((0, 2), rng.integers(-12, 13, 2), strict=True):
        img[..., c] = np.roll(img[..., c], int(shift), axis=1)
    for _ in range(int(rng.integers(3, 10))):  # block displacement
        h, w = int(rng.integers(4, 40)), int(rng.integers(20, size))
        y, x = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
        img[y : y + h, x : x + w] = np.roll(
            img[y : y + h, x : x + w], int(rng.integers(-40, 40)), 1
        )
    if rng.random() < 0.5:
        step = int(rng.integers(2, 5))
        img[::step] = (img[::step] * 0.8).astype(np.uint8)  # scanlines
    return img


def _worley(size: int, rng: np.random.Generator, points: int) -> np.ndarray:
    from scipy.spatial import cKDTree

    pts = rng.uniform(0, size, (points, 2))
    tiled = np.concatenate([pts + [dy, dx] for dy in (-size, 0, size) for dx in (-size, 0, size)])
    yy, xx = np.mgrid[0:size, 0:size]
    dist, _ = cKDTree(tiled).query(np.stack([yy.ravel(), xx.ravel()], axis=1), k=2)
    field = (dist[:, 1] - dist[:, 0]) if rng.random() < 0.5 else dist[:, 0]
    field = field.reshape(size, size)
    return (field - field.min()) / (np.ptp(field) + 1e-9)


def monochrome_noise(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    kind = rng.integers(3)
    if kind == 0:
        t = spectral_noise(size, rng, beta=rng.uniform(1.5, 3.5))
    elif kind == 1:
        t = 1.0 - np.abs(2 * spectral_noise(size, rng, beta=rng.uniform(2.5, 3.5)) - 1)
        t = t ** rng.uniform(1.5, 4.0)
    else:
        t = _worley(size, rng, int(rng.integers(12, 80)))
    t = np.clip((t - t.mean()) * rng.uniform(1.2, 2.2) + 0.5, 0, 1)
    grain = rng.normal(0, rng.uniform(0.01, 0.06), (size, size))
    tint = 1.0 + rng.normal(0, 0.05, 3)
    return _to_uint8(np.clip(t + grain, 0, 1)[..., None] * tint)


GENERATORS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "abstract": abstract,
    "glitch": glitch,
    "colour-field": colour_field,
    "reaction-diffusion": reaction_diffusion,
    "monochrome-noise": monochrome_noise,
}


def generate(bucket: str, seed: int, *, size: int = 256) -> np.ndarray:
    """Image ``[size, size, 3]`` uint8 for ``bucket`` from ``seed`` (same seed → same pixels)."""
    if bucket not in GENERATORS:
        raise ValueError(f"unknown bucket {bucket!r}; valid: {', '.join(GENERATORS)}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, BUCKETS.index(bucket)]))
    for _ in range(4):  # a pattern that died out (flat image) is redrawn from the same stream
        img = GENERATORS[bucket](rng, size)
        if img.std() > 6.0:
            break
    return img
