"""Pretrained-network-free quality metrics: sliced Wasserstein distance on Laplacian-pyramid
patches (Karras et al., ProGAN 2018, §5) and colour statistics."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur_down(x: torch.Tensor) -> torch.Tensor:
    k = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(x)[None, None].repeat(x.shape[1], 1, 1, 1)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])[:, :, ::2, ::2]


def laplacian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels (finest first) of images ``[B, 3, H, W]``; the last is the low-pass."""
    pyramid, current = [], images
    for _ in range(levels - 1):
        down = _blur_down(current)
        up = F.interpolate(down, size=current.shape[-2:], mode="bilinear", align_corners=False)
        pyramid.append(current - up)
        current = down
    pyramid.append(current)
    return pyramid


def _patches(
    level: torch.Tensor, count: int, rng: np.random.Generator, size: int = 7
) -> np.ndarray:
    b, c, h, w = level.shape
    ys = rng.integers(0, h - size + 1, (b, count))
    xs = rng.integers(0, w - size + 1, (b, count))
    out = np.empty((b * count, c * size * size), np.float32)
    arr = level.detach().float().cpu().numpy()
    k = 0
    for i in range(b):
        for y, x in zip(ys[i], xs[i], strict=True):
            out[k] = arr[i, :, y : y + size, x : x + size].ravel()
            k += 1
    return out


def _normalise(patches: np.ndarray, reference: np.ndarray, channels: int) -> np.ndarray:
    """ProGAN's per-colour-channel normalisation, but with the *reference* (real) statistics for
    both sets: normalising each set by its own statistics (as ProGAN does) hides a generator's
    lack of contrast or detail at a level, which is exactly the blur we want the metric to see."""
    ref = reference.reshape(len(reference), channels, -1)
    mean = ref.mean(axis=(0, 2), keepdims=True)
    std = ref.std(axis=(0, 2), keepdims=True) + 1e-8
    return ((patches.reshape(len(patches), channels, -1) - mean) / std).reshape(len(patches), -1)


def sliced_wasserstein(
    a: np.ndarray, b: np.ndarray, *, projections: int, rng: np.random.Generator
) -> float:
    """SWD between point sets ``[N, D]`` (equal N) over random unit directions."""
    dirs = rng.standard_normal((a.shape[1], projections)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    pa = np.sort(a @ dirs, axis=0)
    pb = np.sort(b @ dirs, axis=0)
    return float(np.abs(pa - pb).mean())


def swd_pyramid(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    levels: int = 3,
    patches_per_image: int = 64,
    projections: int = 256,
    seed: int = 0,
) -> list[float]:
    """SWD ×10³ per pyramid level (finest first) between two image batches ``[B, 3, H, W]``."""
    result = []
    pyramids = zip(laplacian_pyramid(real, levels), laplacian_pyramid(fake, levels), strict=True)
    for level, (lr, lf) in enumerate(pyramids):
        # Both sets draw patch positions from the same stream, so identical batches give exactly 0
        # and the metric's noise comes only from the images, not from where patches were cut.
        pr = _patches(lr, patches_per_image, np.random.default_rng([seed, level, 0]))
        pf = _patches(lf, patches_per_image, np.random.default_rng([seed, level, 0]))
        pr, pf = _normalise(pr, pr, lr.shape[1]), _normalise(pf, pr, lr.shape[1])
        n = min(len(pr), len(pf))
        rng = np.random.default_rng([seed, level, 1])
        result.append(1e3 * sliced_wasserstein(pr[:n], pf[:n], projections=projections, rng=rng))
    return result
