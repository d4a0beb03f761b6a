"""Torch versions of the per-pixel steps that OpenCV does in the CPU post-fx chain, for the chain
that runs on a GPU (:mod:`renderer.fx.device_fx`).

Only the steps OpenCV owns are here: table lookups and saturating arithmetic (exact: the same
uint8 results), the Oklab conversions, the gamut-table lookup, bicubic resizing and the Gaussian
blur (float32 on the device, within one 8-bit level of OpenCV's fixed-point versions on nearly
every pixel: ``tests/test_gpu_path.py`` states the bounds). The decisions, the tables and the
elementwise formulas written once for numpy and torch (``oklab.soft_clip_chroma``,
``oklab.srgb_encode``, ``colour_fx.grade_lch``) are not repeated.

Frames are ``uint8 [B, H, W, 3]`` tensors, planes ``[..., H, W]``, all on one device.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from renderer.fx.colour_fx import LchKernels
from renderer.fx.oklab import (
    GAMUT_H,
    GAMUT_L,
    M1,
    M1_INV,
    M2,
    M2_INV,
    SRGB_TO_LINEAR,
    TWO_PI,
    gamut_table,
    srgb_encode,
)
from renderer.fx.output_fx import SHARPEN_SIGMA


def to_u8(x: torch.Tensor) -> torch.Tensor:
    """Round half to even (OpenCV's ``saturate_cast``) and saturate to uint8."""
    return x.round().clamp_(0.0, 255.0).to(torch.uint8)


@functools.lru_cache(maxsize=64)
def _constant(name: str, device: torch.device) -> torch.Tensor:
    tables = {
        "srgb": lambda: SRGB_TO_LINEAR,
        "m1": lambda: M1.T.copy(),
        "m2": lambda: M2.T.copy(),
        "m1_inv": lambda: M1_INV.T.copy(),
        "m2_inv": lambda: M2_INV.T.copy(),
        "gamut": gamut_table,
        "gauss": lambda: cv2.getGaussianKernel(5, SHARPEN_SIGMA).astype(np.float32).ravel(),
    }
    return torch.from_numpy(np.array(tables[name](), order="C")).to(device)


def upload(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A host table/mask as a tensor on ``device`` (one host→device copy)."""
    return torch.from_numpy(np.array(array, order="C")).to(device)  # a copy: tables are read-only


def lookup(frames: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """``cv2.LUT`` per frame: ``frames [B, H, W, 3]`` through uint8 ``tables [B, 256]``."""
    batch = len(frames)
    flat = frames.reshape(batch, -1).long()
    return torch.gather(tables, 1, flat).reshape(frames.shape)


def add_sub(frames: torch.Tensor, plus: torch.Tensor, minus: torch.Tensor) -> torch.Tensor:
    """``cv2.subtract(cv2.add(frames, plus), minus)``: saturating after each step."""
    out = frames.to(torch.int16) + plus
    out.clamp_(max=255).sub_(minus).clamp_(min=0)
    return out.to(torch.uint8)


def lut3d_index(frames: torch.Tensor) -> torch.Tensor:
    """5-bit RGB bin ``r·1024 + g·32 + b`` of each pixel (``grading.CUBE_BITS``) ``[B, H, W]``."""
    v = (frames >> 3).long()
    return (v[..., 0] << 10) | (v[..., 1] << 5) | v[..., 2]


def rgb8_to_lch(frame: torch.Tensor) -> torch.Tensor:
    """uint8 sRGB ``[H, W, 3]`` → OKLCh planes ``[3, H, W]`` (hue in [0, 2π))."""
    device = frame.device
    lin = _constant("srgb", device)[frame.long()]
    lms = (lin @ _constant("m1", device)).clamp_(min=0.0)
    lab = lms.pow(1.0 / 3.0) @ _constant("m2", device)
    a, b = lab[..., 1], lab[..., 2]
    hue = torch.atan2(b, a).remainder_(TWO_PI)
    return torch.stack([lab[..., 0], torch.hypot(a, b), hue])


def interp(x: torch.Tensor, grid: np.ndarray, curve: np.ndarray) -> torch.Tensor:
    """``np.interp(x, grid, curve)`` for the uniform ``grid`` over [0, 1] of ``grade_lch``."""
    n = len(grid) - 1
    ys = torch.as_tensor(np.asarray(curve, np.float32)).to(x.device)
    pos = x.clamp(0.0, 1.0) * n
    i = pos.floor().clamp_(max=n - 1)
    frac = pos - i
    i = i.long()
    lo = ys[i]
    return lo + frac * (ys[i + 1] - lo)


def max_chroma(lightness: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """``oklab.max_chroma`` on the device: bilinear in the gamut table, borders replicated."""
    table = _constant("gamut", lightness.device)
    x = hue * (GAMUT_H / TWO_PI)
    y = lightness.clamp(0.0, 1.0) * (GAMUT_L - 1)
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    cols, rows = table.shape[1], table.shape[0]
    xa, xb = x0.clamp(0, cols - 1).long(), (x0 + 1).clamp(0, cols - 1).long()
    ya, yb = y0.clamp(0, rows - 1).long(), (y0 + 1).clamp(0, rows - 1).long()
    top = table[ya, xa] + fx * (table[ya, xb] - table[ya, xa])
    bottom = table[yb, xa] + fx * (table[yb, xb] - table[yb, xa])
    return top + fy * (bottom - top)


def lch_to_rgb8(lightness: torch.Tensor, chroma: torch.Tensor, hue: torch.Tensor) -> torch.Tensor:
    """OKLCh planes ``[H, W]`` → uint8 sRGB ``[H, W, 3]``, rounded."""
    device = lightness.device
    lab = torch.stack([lightness, chroma * torch.cos(hue), chroma * torch.sin(hue)], dim=-1)
    lms_ = lab @ _constant("m2_inv", device)
    lin = (lms_ * lms_ * lms_) @ _constant("m1_inv", device)
    return to_u8(srgb_encode(lin) * 255.0)


TORCH_KERNELS = LchKernels(interp=interp, max_chroma=max_chroma, lch_to_rgb8=lch_to_rgb8)


def resize(planes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic (a = −0.75, pixel centres as OpenCV's) uint8 ``[B, h, w]`` → ``[B, H, W]``."""
    width, height = size
    x = planes.unsqueeze(1).float()
    out = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False)
    return to_u8(out.squeeze(1))


def resize_frames(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic ``[B, h, w, 3]`` → ``[B, H, W, 3]`` (uint8)."""
    width, height = size
    x = frames.permute(0, 3, 1, 2).float()
    out = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False)
    return to_u8(out).permute(0, 2, 3, 1).contiguous()


def _reflect_index(n: int, pad: int, device: torch.device) -> torch.Tensor:
    idx = torch.arange(-pad, n + pad, device=device)
    return torch.where(idx < 0, -idx - 1, torch.where(idx >= n, 2 * n - 1 - idx, idx))


def reflect(planes: torch.Tensor, m: int, n: int) -> torch.Tensor:
    """``cv2.copyMakeBorder(…, BORDER_REFLECT)`` (edge repeated: ``cba|abc``) by ``m`` rows and
    ``n`` columns each side of ``[B, h, w]``."""
    height, width = planes.shape[-2:]
    rows = _reflect_index(height, m, planes.device)
    cols = _reflect_index(width, n, planes.device)
    return planes.index_select(-2, rows).index_select(-1, cols)


def gaussian_blur(frames: torch.Tensor) -> torch.Tensor:
    """``cv2.GaussianBlur(frame, (5, 5), SHARPEN_SIGMA)`` of uint8 ``[B, H, W, 3]`` (reflect-101
    borders, rounded to uint8 as OpenCV's 8-bit blur is)."""
    k = _constant("gauss", frames.device)
    x = frames.permute(0, 3, 1, 2).float()
    channels = x.shape[1]
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, 5).expand(channels, 1, 1, 5), groups=channels)
    x = F.conv2d(x, k.view(1, 1, 5, 1).expand(channels, 1, 5, 1), groups=channels)
    return to_u8(x).permute(0, 2, 3, 1)
