"""training/procedural: determinism, variety and non-degenerate images for every bucket."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from training.procedural import BUCKETS, GENERATORS, generate
from training.procedural.noise import bandpass_noise, spectral_noise, streaks, worley
from training.procedural.palettes import PALETTES, cosine_palette, gradient_map, pick_palette


def _colourfulness(img: np.ndarray) -> float:
    """Hasler–Süsstrunk colourfulness (0 for greyscale, ~100+ for saturated images)."""
    r, g, b = (img[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


@pytest.mark.parametrize("bucket", BUCKETS)
def test_same_seed_same_pixels_and_seeds_differ(bucket: str) -> None:
    a = generate(bucket, 11, size=128)
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    assert np.array_equal(a, generate(bucket, 11, size=128))
    assert not np.array_equal(a, generate(bucket, 12, size=128))


@pytest.mark.parametrize("bucket", BUCKETS)
def test_buckets_are_varied_and_not_degenerate(bucket: str) -> None:
    images = [generate(bucket, seed, size=128) for seed in range(4)]
    for img in images:
        assert img.std() > 8.0, f"{bucket}: a near-flat image"
        assert img.min() < 200 and img.max() > 40  # neither blown out nor black
        assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50
    colour = [_colourfulness(img) for img in images]
    if bucket == "monochrome-noise":
        assert max(colour) < 15.0  # near-greyscale (a faint tint is allowed)
    else:
        assert np.mean(colour) > 15.0 and max(colour) < 200.0  # coloured but not garish
    means = np.array([img.reshape(-1, 3).mean(axis=0) for img in images])
    assert means.std(axis=0).max() > 3.0, f"{bucket}: four seeds gave the same colours"


def test_buckets_differ_from_each_other() -> None:
    imgs = {b: generate(b, 5, size=64) for b in BUCKETS}
    for i, a in enumerate(BUCKETS):
        for b in BUCKETS[i + 1 :]:
            assert not np.array_equal(imgs[a], imgs[b])


def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="bucket.*'oil'"):
        generate("oil", 1)
    with pytest.raises(ValueError, match="size"):
        generate("abstract", 1, size=8)
    assert set(GENERATORS) == set(BUCKETS)


def test_redraws_a_flat_image(monkeypatch) -> None:
    calls = []

    def flaky(rng: np.random.Generator, size: int) -> np.ndarray:
        calls.append(size)
        if len(calls) == 1:
            return np.full((size, size, 3), 90, np.uint8)
        return rng.integers(0, 255, (size, size, 3), dtype=np.uint8)

    monkeypatch.setitem(GENERATORS, "abstract", flaky)
    assert generate("abstract", 3, size=32).std() > 8 and len(calls) == 2


def test_palettes_and_noise_primitives(rng: np.random.Generator) -> None:
    assert len(PALETTES) >= 20 and all(p.shape == (5, 3) for p in PALETTES.values())
    for _ in range(8):
        stops = pick_palette(rng)
        assert stops.shape[1] == 3 and stops.min() >= 0 and stops.max() <= 1
    t = np.linspace(0, 1, 64, dtype=np.float32)[None, :].repeat(4, 0)
    mapped = gradient_map(t, np.array([[0, 0, 0], [1, 1, 1]], np.float32))
    assert mapped.shape == (4, 64, 3) and mapped[0, 0, 0] == 0 and mapped[0, -1, 0] == 1
    assert np.all(np.diff(mapped[0, :, 0]) >= 0)
    cos = cosine_palette(t, rng)
    assert cos.shape == (4, 64, 3) and 0 <= cos.min() and cos.max() <= 1
    for field in (
        spectral_noise(64, rng, beta=3.0),
        bandpass_noise(64, rng, freq=0.1, width=0.02),
        worley(64, rng, points=10, mode="f2-f1"),
    ):
        assert field.shape == (64, 64) and field.min() == 0 and abs(field.max() - 1) < 1e-6
    flat = np.zeros((32, 32), np.float32)
    assert np.allclose(streaks(flat + 0.5, flat + 1, flat, steps=3), 0.5)


def test_glitch_operations_keep_shape(rng: np.random.Generator) -> None:
    # The package re-exports the bucket functions under the submodule names, hence importlib.
    glitch_ops = importlib.import_module("training.procedural.glitch")
    img = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
    for op in glitch_ops.OPERATIONS:
        out = op(img, rng)
        assert out.shape == img.shape and out.dtype == np.uint8
    # Pixel sorting permutes pixels within rows (or columns): the colour multiset is unchanged.
    sorted_img = glitch_ops.pixel_sort(img, np.random.default_rng(0))
    assert np.array_equal(
        np.sort(sorted_img.reshape(-1, 3), axis=0), np.sort(img.reshape(-1, 3), axis=0)
    )
