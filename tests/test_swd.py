"""The sliced Wasserstein distance and the Laplacian pyramid it is computed on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from training.metrics import laplacian_pyramid, sliced_wasserstein, swd_pyramid

KW = {"patches_per_image": 32, "projections": 64}


def noise(n: int = 8, size: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_sliced_wasserstein_of_point_sets() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 4)).astype(np.float32)
    assert sliced_wasserstein(a, a, projections=32, rng=np.random.default_rng(1)) == 0
    # order within a set does not matter (it compares distributions)
    shuffled = a[rng.permutation(len(a))]
    assert sliced_wasserstein(a, shuffled, projections=32, rng=np.random.default_rng(1)) == 0
    # a shift by t along every axis: the distance grows with t, linearly
    dists = [
        sliced_wasserstein(a, a + t, projections=64, rng=np.random.default_rng(1))
        for t in (0.1, 0.5, 1.0, 2.0)
    ]
    assert dists == sorted(dists) and dists[0] > 0
    assert dists[3] == pytest.approx(2 * dists[2], rel=1e-4)  # linear in the shift
    # a shift by 1 along axis 0 moves every projection onto unit u by u_0 exactly
    b = a.copy()
    b[:, 0] += 1.0
    d = sliced_wasserstein(a, b, projections=256, rng=np.random.default_rng(2))
    dirs = np.random.default_rng(2).standard_normal((4, 256)).astype(np.float32)
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    assert d == pytest.approx(float(np.abs(dirs[0]).mean()), rel=1e-4)


def test_swd_pyramid_of_identical_sets_is_zero() -> None:
    x = noise()
    same = swd_pyramid(x, x, **KW)
    assert len(same) == 3 and max(same) < 1e-6
    assert len(swd_pyramid(x, x, levels=2, **KW)) == 2


def test_swd_pyramid_grows_with_a_shift() -> None:
    x = noise()
    values = [np.mean(swd_pyramid(x, (x + t).clamp(-2, 2), **KW)) for t in (0.05, 0.2, 0.5)]
    assert values == sorted(values) and values[0] > 0
    # a brightness shift lives in the low-pass level; the band-pass levels barely move
    per_level = swd_pyramid(x, x + 0.5, **KW)
    assert per_level[2] > 10 * max(per_level[0], 1e-9)


def test_swd_pyramid_sees_blur_and_blocks() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(8, 3, 32, 32, generator=gen) * 2 - 1
    other = torch.rand(8, 3, 32, 32, generator=gen) * 2 - 1
    near = np.mean(swd_pyramid(x, other, **KW))  # same distribution, different draws
    smooth = F.avg_pool2d(x, 5, 1, 2) * 3
    blocks = F.interpolate(smooth[:, :, ::8, ::8], scale_factor=8)
    for different in (smooth, blocks):
        assert np.mean(swd_pyramid(x, different, **KW)) > 2 * near
    # blur removes fine detail: the finest level is the one that sees it most
    blurred = swd_pyramid(x, F.avg_pool2d(x, 3, 1, 1), **KW)
    assert blurred[0] > blurred[2]


def test_swd_is_deterministic_for_a_seed() -> None:
    a, b = noise(seed=1), noise(seed=2)
    assert swd_pyramid(a, b, **KW) == swd_pyramid(a, b, **KW)
    assert swd_pyramid(a, b, seed=1, **KW) != swd_pyramid(a, b, seed=2, **KW)


def test_laplacian_pyramid_reconstructs() -> None:
    x = noise(n=2)
    levels = laplacian_pyramid(x, 3)
    assert [lv.shape[-1] for lv in levels] == [32, 16, 8]
    # band-pass + upsampled coarser level gives back each level exactly
    current = levels[-1]
    for band in reversed(levels[:-1]):
        current = band + F.interpolate(current, size=band.shape[-2:], mode="bilinear",
                                       align_corners=False)  # fmt: skip
    torch.testing.assert_close(current, x, atol=1e-5, rtol=0)
    # a constant image has no band-pass content
    flat = laplacian_pyramid(torch.full((1, 3, 16, 16), 0.3), 3)
    assert max(float(b.abs().max()) for b in flat[:-1]) < 1e-6
