"""Sample sheets: value mapping to uint8 and grid layout."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from training.visualise import save_grid, to_uint8


def test_to_uint8_maps_the_range_and_clamps() -> None:
    x = torch.tensor([-1.0, 0.0, 1.0, -3.0, 3.0, 0.5]).reshape(1, 1, 1, 6).expand(1, 3, 1, 6)
    out = to_uint8(x)
    assert out.shape == (1, 1, 6, 3) and out.dtype == np.uint8
    assert out[0, 0, :, 0].tolist() == [0, 128, 255, 0, 255, 191]
    # channels land in the last axis in RGB order
    rgb = torch.stack([torch.full((2, 2), v) for v in (-1.0, 0.0, 1.0)])[None]
    assert to_uint8(rgb)[0, 1, 1].tolist() == [0, 128, 255]


def test_save_grid_layout(tmp_path) -> None:
    tiles = torch.stack([torch.full((3, 4, 5), v) for v in (-1.0, -0.5, 0.0, 0.5, 1.0)])
    path = save_grid(tiles, tmp_path / "sub" / "grid.png", columns=2, pad=1)
    assert path == tmp_path / "sub" / "grid.png"
    sheet = np.asarray(Image.open(path).convert("RGB"))
    # 5 tiles in 2 columns: 3 rows of 4 px, 2 columns of 5 px, 1 px gutters around all
    assert sheet.shape == (3 * (4 + 1) + 1, 2 * (5 + 1) + 1, 3)
    expected = to_uint8(tiles)[:, 0, 0, 0]
    for i, value in enumerate(expected):
        y, x = 1 + (i // 2) * 5, 1 + (i % 2) * 6
        assert (sheet[y : y + 4, x : x + 5] == value).all(), i
    assert (sheet[0] == 12).all() and (sheet[:, 0] == 12).all()  # dark gutters
    assert (sheet[11:15, 7:12] == 12).all()  # the empty sixth slot stays background


def test_save_grid_single_column_no_padding(tmp_path) -> None:
    tiles = torch.rand(3, 3, 2, 2) * 2 - 1
    sheet = np.asarray(Image.open(save_grid(tiles, tmp_path / "g.png", columns=1, pad=0)))
    np.testing.assert_array_equal(sheet, to_uint8(tiles).reshape(6, 2, 3))
