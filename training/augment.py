"""Dataloader-time augmentation (spec §4.4): random crop/resize, flips, mild colour jitter,
mild blur or JPEG re-encode, small cutout.

Every function takes a uint8 image ``[H, W, 3]`` and an explicit ``numpy.random.Generator`` and
returns a new uint8 image; nothing touches global random state. Jitter is deliberately mild and
leaves hue alone: the palettes are part of what the GAN should learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Strengths and probabilities; the defaults are the training recipe."""

    min_scale: float = 0.6  # smallest crop window, as a fraction of the image side (full-size mode)
    max_zoom: float = 1.25  # crop mode: window side up to crop × max_zoom, resized down to crop
    flip: bool = True  # horizontal and vertical flips (abstract images have no "up")
    brightness: float = 10.0  # ± eight-bit levels
    contrast: float = 0.08  # ± fraction
    saturation: float = 0.12  # ± fraction
    p_blur: float = 0.1
    blur_sigma: tuple[float, float] = (0.3, 0.8)
    p_jpeg: float = 0.1
    jpeg_quality: tuple[int, int] = (60, 90)
    p_cutout: float = 0.25
    cutout_frac: tuple[float, float] = (0.05, 0.15)


def random_crop(
    img: np.ndarray, rng: np.random.Generator, *, crop: int, max_zoom: float = 1.0
) -> np.ndarray:
    """A random ``[crop, crop, 3]`` window; with ``max_zoom`` > 1 the window is up to
    ``crop × max_zoom`` wide and resized down (a little scale variety at full texture scale)."""
    h, w = img.shape[:2]
    if crop > min(h, w):
        raise ValueError(f"crop: {crop} is larger than the image ({w}×{h})")
    window = int(min(h, w, round(crop * rng.uniform(1.0, max_zoom))))
    y, x = int(rng.integers(0, h - window + 1)), int(rng.integers(0, w - window + 1))
    out = img[y : y + window, x : x + window]
    if window != crop:
        out = cv2.resize(out, (crop, crop), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out)


def random_resized_crop(
    img: np.ndarray, rng: np.random.Generator, *, size: int, min_scale: float
) -> np.ndarray:
    """A square window of side ``U(min_scale, 1) × min(H, W)`` resized to ``[size, size, 3]``."""
    h, w = img.shape[:2]
    window = int(round(min(h, w) * rng.uniform(min_scale, 1.0)))
    y, x = int(rng.integers(0, h - window + 1)), int(rng.integers(0, w - window + 1))
    out = img[y : y + window, x : x + window]
    interp = cv2.INTER_AREA if window > size else cv2.INTER_CUBIC
    return np.ascontiguousarray(
        cv2.resize(out, (size, size), interpolation=interp) if window != size else out
    )


def flips(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Horizontal and vertical flips, each with probability ½."""
    if rng.random() < 0.5:
        img = img[:, ::-1]
    if rng.random() < 0.5:
        img = img[::-1]
    return np.ascontiguousarray(img)


def colour_jitter(
    img: np.ndarray,
    rng: np.random.Generator,
    *,
    brightness: float,
    contrast: float,
    saturation: float,
) -> np.ndarray:
    """Mild saturation, contrast and brightness changes (hue untouched)."""
    f = img.astype(np.float32)
    grey = f.mean(axis=2, keepdims=True)
    f = grey + (f - grey) * rng.uniform(1 - saturation, 1 + saturation)
    mean = float(f.mean())
    f = (
        (f - mean) * rng.uniform(1 - contrast, 1 + contrast)
        + mean
        + rng.uniform(-brightness, brightness)
    )
    return np.clip(f + 0.5, 0, 255).astype(np.uint8)


def blur_or_jpeg(img: np.ndarray, rng: np.random.Generator, *, config: AugmentConfig) -> np.ndarray:
    """With ``p_blur`` a mild Gaussian blur, else with ``p_jpeg`` a JPEG round trip."""
    roll = rng.random()
    if roll < config.p_blur:
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(*config.blur_sigma))
    if roll < config.p_blur + config.p_jpeg:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok:  # channel order does not matter for a round trip
            return cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return img


def cutout(img: np.ndarray, rng: np.random.Generator, *, frac: tuple[float, float]) -> np.ndarray:
    """One small square filled with the image's mean colour."""
    h, w = img.shape[:2]
    side = max(int(min(h, w) * rng.uniform(*frac)), 1)
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    out = img.copy()
    out[y : y + side, x : x + side] = img.reshape(-1, 3).mean(axis=0).round().astype(np.uint8)
    return out


def augment(
    img: np.ndarray,
    rng: np.random.Generator,
    *,
    size: int,
    crop: int | None = None,
    config: AugmentConfig = AugmentConfig(),
) -> np.ndarray:
    """One augmented view of ``img`` ``[H, W, 3]`` uint8.

    ``crop=None``: a random resized crop to ``[size, size, 3]``. ``crop=c``: the image is brought
    to ``size``² and a random ``[c, c, 3]`` window is taken at (nearly) full texture scale — the
    cheap CPU recipe trains on 64² crops of 256² images.
    """
    if crop is None:
        out = random_resized_crop(img, rng, size=size, min_scale=config.min_scale)
    else:
        if img.shape[0] != size or img.shape[1] != size:
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        out = random_crop(img, rng, crop=crop, max_zoom=config.max_zoom)
    if config.flip:
        out = flips(out, rng)
    out = colour_jitter(
        out,
        rng,
        brightness=config.brightness,
        contrast=config.contrast,
        saturation=config.saturation,
    )
    out = blur_or_jpeg(out, rng, config=config)
    if rng.random() < config.p_cutout:
        out = cutout(out, rng, frac=config.cutout_frac)
    return np.ascontiguousarray(out)
