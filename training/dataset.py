"""Training images with dataloader-time augmentation (spec §4.4).

Images are decoded once into a uint8 array (5,000 × 256² × 3 ≈ 1 GB) so CPU epochs are not bound
by PNG decoding. Augmentation per sample, from a seeded generator: random crop (optionally resized
from a larger window), horizontal/vertical flips, mild colour jitter (brightness, contrast,
saturation — hue is left alone to keep palettes), occasional mild blur or JPEG re-encode, and a
small cutout.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset


def load_images(
    root: Path, *, manifest: Path | None = None, limit: int | None = None
) -> np.ndarray:
    """``[N, H, W, 3]`` uint8 from the PNGs in ``root`` (listed by ``manifest`` when given)."""
    if manifest is not None and manifest.exists():
        with open(manifest, newline="") as fh:
            names = [row["file"] for row in csv.DictReader(fh)]
        paths = [root / n for n in names if (root / n).is_file()]
    else:
        paths = sorted(root.glob("*.png"))
    if limit:
        paths = paths[:limit]
    if not paths:
        raise FileNotFoundError(f"{root}: no training images (run python training/make_dataset.py)")
    return np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])


def augment(img: np.ndarray, rng: np.random.Generator, *, crop: int) -> np.ndarray:
    """One augmented ``[crop, crop, 3]`` uint8 view of ``img`` ``[H, W, 3]``."""
    h, w, _ = img.shape
    window = int(min(h, w, crop * rng.uniform(1.0, 1.25)))
    y, x = int(rng.integers(0, h - window + 1)), int(rng.integers(0, w - window + 1))
    out = img[y : y + window, x : x + window]
    if window != crop:
        out = cv2.resize(out, (crop, crop), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if rng.random() < 0.5:
        out = out[::-1]
    f = out.astype(np.float32)
    grey = f.mean(axis=2, keepdims=True)
    f = grey + (f - grey) * rng.uniform(0.85, 1.15)  # saturation
    f = (f - 128) * rng.uniform(0.9, 1.1) + 128 + rng.uniform(-12, 12)  # contrast, brightness
    out = np.clip(f, 0, 255).astype(np.uint8)
    roll = rng.random()
    if roll < 0.1:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 0.8))
    elif roll < 0.2:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 90))])
        out = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED) if ok else out
    if rng.random() < 0.25:
        s = int(crop * rng.uniform(0.05, 0.15))
        cy, cx = int(rng.integers(0, crop - s)), int(rng.integers(0, crop - s))
        out = out.copy()
        out[cy : cy + s, cx : cx + s] = out.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    return np.ascontiguousarray(out)


class ImageFolderDataset(Dataset):
    """Float tensors ``[3, crop, crop]`` in [-1, 1]; sample ``i`` of epoch ``e`` is seeded by
    ``(seed, e, i)`` so runs are reproducible whatever the worker layout."""

    def __init__(
        self,
        root: str | Path,
        *,
        manifest: str | Path | None = None,
        crop: int = 64,
        augment: bool = True,
        seed: int = 0,
        limit: int | None = None,
        images: np.ndarray | None = None,
    ) -> None:
        self.images = (
            images
            if images is not None
            else load_images(Path(root), manifest=Path(manifest) if manifest else None, limit=limit)
        )
        self.crop, self.augment, self.seed, self.epoch = crop, augment, seed, 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        img = self.images[index]
        if self.augment:
            img = augment(img, rng, crop=self.crop)
        else:
            h, w, _ = img.shape
            y, x = (h - self.crop) // 2, (w - self.crop) // 2
            img = img[y : y + self.crop, x : x + self.crop]
        return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 127.5 - 1.0
