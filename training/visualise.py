"""Image grids for sample sheets and validation sweeps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``[B, 3, H, W]`` in [-1, 1] → ``[B, H, W, 3]`` uint8."""
    arr = ((images.detach().float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    return arr.permute(0, 2, 3, 1).cpu().numpy()


def save_grid(images: torch.Tensor, path: Path, *, columns: int = 4, pad: int = 2) -> Path:
    """Tile a batch into one PNG (``columns`` wide, ``pad`` px dark gutters)."""
    tiles = to_uint8(images)
    b, h, w, _ = tiles.shape
    rows = (b + columns - 1) // columns
    sheet = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, 3), 12, np.uint8)
    for i, tile in enumerate(tiles):
        y, x = pad + (i // columns) * (h + pad), pad + (i % columns) * (w + pad)
        sheet[y : y + h, x : x + w] = tile
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(path)
    return path
