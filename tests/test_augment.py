"""training/augment.py: shapes, seeding and that each operation stays mild."""

from __future__ import annotations

import numpy as np
import pytest

from training.augment import (
    AugmentConfig,
    augment,
    blur_or_jpeg,
    colour_jitter,
    cutout,
    random_crop,
    random_resized_crop,
)


@pytest.fixture
def image() -> np.ndarray:
    yy, xx = np.mgrid[0:96, 0:96]
    img = np.stack([xx * 2, yy * 2, (xx + yy)], axis=-1)
    return np.clip(img + 20, 0, 255).astype(np.uint8)


def test_full_size_and_crop_modes(image: np.ndarray) -> None:
    out = augment(image, np.random.default_rng(0), size=64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
    crop = augment(image, np.random.default_rng(0), size=96, crop=32)
    assert crop.shape == (32, 32, 3)
    resized = augment(image, np.random.default_rng(0), size=48, crop=16)  # resize first, then crop
    assert resized.shape == (16, 16, 3)


def test_same_generator_state_same_view(image: np.ndarray) -> None:
    a = augment(image, np.random.default_rng(5), size=64, crop=32)
    b = augment(image, np.random.default_rng(5), size=64, crop=32)
    c = augment(image, np.random.default_rng(6), size=64, crop=32)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_crops_come_from_the_image(image: np.ndarray) -> None:
    rng = np.random.default_rng(1)
    out = random_crop(image, rng, crop=24)  # max_zoom 1: an exact window
    found = any(
        np.array_equal(out, image[y : y + 24, x : x + 24]) for y in range(73) for x in range(73)
    )
    assert found
    zoomed = random_crop(image, rng, crop=24, max_zoom=2.0)
    assert zoomed.shape == (24, 24, 3)
    with pytest.raises(ValueError, match="crop"):
        random_crop(image, rng, crop=200)
    assert random_resized_crop(image, rng, size=96, min_scale=1.0).shape == (96, 96, 3)
    assert random_resized_crop(image, rng, size=128, min_scale=0.5).shape == (128, 128, 3)


def test_jitter_is_mild_and_keeps_hue(image: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    image = np.clip(image.astype(int) + [40, 0, -15], 0, 255).astype(np.uint8)  # a warm cast
    for _ in range(10):
        out = colour_jitter(image, rng, brightness=10, contrast=0.08, saturation=0.12)
        diff = np.abs(out.astype(int) - image.astype(int))
        assert diff.mean() < 20
        # The channel order of the mean colour (its rough hue) is preserved.
        assert np.array_equal(
            np.argsort(out.reshape(-1, 3).mean(0)), np.argsort(image.reshape(-1, 3).mean(0))
        )


def test_blur_jpeg_and_cutout(image: np.ndarray) -> None:
    always_blur = AugmentConfig(p_blur=1.0, p_jpeg=0.0)
    blurred = blur_or_jpeg(image, np.random.default_rng(0), config=always_blur)
    assert blurred.shape == image.shape and np.abs(blurred.astype(int) - image).mean() < 3
    always_jpeg = AugmentConfig(p_blur=0.0, p_jpeg=1.0)
    jpeg = blur_or_jpeg(image, np.random.default_rng(0), config=always_jpeg)
    assert jpeg.shape == image.shape and not np.array_equal(jpeg, image)
    assert np.abs(jpeg.astype(int) - image).mean() < 6
    never = AugmentConfig(p_blur=0.0, p_jpeg=0.0)
    assert blur_or_jpeg(image, np.random.default_rng(0), config=never) is image
    cut = cutout(image, np.random.default_rng(0), frac=(0.2, 0.2))
    changed = np.any(cut != image, axis=-1)
    assert 0 < changed.sum() <= 19 * 19
    everything = AugmentConfig(p_cutout=1.0, flip=False)
    assert augment(image, np.random.default_rng(3), size=96, config=everything).shape == (96, 96, 3)
