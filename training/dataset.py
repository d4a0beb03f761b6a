"""Training images as a torch ``Dataset`` with dataloader-time augmentation (training/augment.py).

Images are decoded once into a uint8 array (5,000 × 256² × 3 ≈ 1 GB) so CPU epochs are not bound
by PNG decoding. Sample ``i`` is augmented with a generator seeded by ``(seed, epoch, i, visit)``:
reproducible for a given run, different on every visit, and — after :meth:`set_epoch` — the same
whatever the number of DataLoader workers.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from training.augment import AugmentConfig, augment


def manifest_files(manifest: Path) -> list[str]:
    """File names listed in ``manifest.csv`` (its ``file`` column)."""
    try:
        with open(manifest, newline="") as fh:
            return [row["file"] for row in csv.DictReader(fh)]
    except (OSError, KeyError) as exc:
        raise FileNotFoundError(f"{manifest}: not a readable dataset manifest ({exc})") from exc


def load_images(
    root: Path, *, manifest: Path | None = None, limit: int | None = None
) -> np.ndarray:
    """``[N, H, W, 3]`` uint8 from the PNGs in ``root`` (in manifest order when one is given;
    listed files that are missing are skipped, so a partly generated set still loads)."""
    root = Path(root)
    if manifest is not None and Path(manifest).exists():
        paths = [root / n for n in manifest_files(Path(manifest)) if (root / n).is_file()]
    else:
        paths = sorted(root.glob("*.png"))
    if limit:
        paths = paths[:limit]
    if not paths:
        raise FileNotFoundError(f"{root}: no training images (run python training/make_dataset.py)")
    images = []
    for p in paths:
        with Image.open(p) as im:
            images.append(np.asarray(im.convert("RGB")))
    shapes = {img.shape for img in images}
    if len(shapes) > 1:
        raise ValueError(f"{root}: images differ in size {sorted(shapes)}; regenerate at one size")
    return np.stack(images)


class ImageFolderDataset(Dataset):
    """Float tensors ``[3, S, S]`` in [-1, 1], S = ``crop`` or ``size``.

    ``root``: folder of PNGs; ``manifest``: optional manifest.csv choosing and ordering them;
    ``size``: side the images are brought to; ``crop``: random (or, without augmentation, centre)
    ``crop``² window of the ``size``² image; ``images``: an already-decoded ``[N, H, W, 3]`` uint8
    array (then ``root`` is only a label).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        manifest: str | Path | None = None,
        size: int = 256,
        crop: int | None = None,
        augment: bool = True,
        seed: int = 0,
        limit: int | None = None,
        images: np.ndarray | None = None,
        config: AugmentConfig = AugmentConfig(),
    ) -> None:
        if crop is not None and not 1 <= crop <= size:
            raise ValueError(f"crop: must be in [1, size={size}] (got {crop})")
        if images is None:
            images = load_images(
                Path(root), manifest=Path(manifest) if manifest else None, limit=limit
            )
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"images: expected uint8 [N, H, W, 3], got {images.dtype} {images.shape}"
            )
        self.images = images
        self.size, self.crop, self.augment, self.seed = size, crop, augment, seed
        self.config = config
        self.epoch = 0
        self._visits = np.zeros(len(images), np.int64)

    def set_epoch(self, epoch: int) -> None:
        """Fix the epoch (makes the augmentation independent of the worker layout)."""
        self.epoch = int(epoch)
        self._visits[:] = 0

    def __len__(self) -> int:
        return len(self.images)

    def view(self, index: int) -> np.ndarray:
        """The uint8 ``[S, S, 3]`` sample ``index`` (augmented or centre-cropped)."""
        img = self.images[index]
        if self.augment:
            visit = int(self._visits[index])
            self._visits[index] += 1
            rng = np.random.default_rng([self.seed, self.epoch, int(index), visit])
            return augment(img, rng, size=self.size, crop=self.crop, config=self.config)
        if img.shape[0] != self.size or img.shape[1] != self.size:
            img = cv2.resize(img, (self.size, self.size), interpolation=cv2.INTER_AREA)
        if self.crop is not None:
            y = x = (self.size - self.crop) // 2
            img = img[y : y + self.crop, x : x + self.crop]
        return np.ascontiguousarray(img)

    def __getitem__(self, index: int) -> torch.Tensor:
        img = self.view(index)
        return torch.from_numpy(img).permute(2, 0, 1).float() / 127.5 - 1.0
