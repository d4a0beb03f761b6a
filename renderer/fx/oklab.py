"""Oklab (Ottosson 2020) for hue-preserving colour work on 8-bit sRGB frames.

Chroma is changed in OKLCh at constant lightness ``L`` and hue ``h`` and brought back into the
sRGB gamut by a soft knee against the gamut boundary ``C_max(L, h)`` (a precomputed table), so a
saturated colour is compressed towards grey along its own hue instead of having a channel
clipped to 0 or 255 (which flattens blue skies to a single level and turns hues).

Shapes: images are ``[H, W, 3]`` (or any ``[..., 3]``); planes ``[H, W]``. All work is float32
with OpenCV/numpy element-wise calls (≈3 ms for a 272×480 frame on the development machine).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

# linear sRGB → LMS and LMS' (cube root) → Lab, and their inverses (Ottosson's published values).
_M1 = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_M2 = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_M1_INV = np.linalg.inv(_M1)
_M2_INV = np.linalg.inv(_M2)
M1, M2 = _M1.astype(np.float32), _M2.astype(np.float32)
M1_INV, M2_INV = _M1_INV.astype(np.float32), _M2_INV.astype(np.float32)

GAMUT_L, GAMUT_H = 256, 360  # C_max table: lightness steps × hue steps (+1 wrap column)
TWO_PI = 2.0 * np.pi


def _srgb_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(lin):
    """Linear light in [0, 1] (clipped) → sRGB-encoded float in [0, 1] (array or tensor)."""
    xp = namespace(lin)
    lin = xp.clip(lin, 0.0, 1.0)
    return xp.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1.0 / 2.4) - 0.055)


SRGB_TO_LINEAR = _srgb_decode(np.arange(256) / 255.0).astype(np.float32)  # uint8 → linear


def linear_to_oklab(lin: np.ndarray) -> np.ndarray:
    """Linear sRGB float32 ``[..., 3]`` (non-negative) → Oklab ``[..., 3]`` (L, a, b)."""
    lms = cv2.transform(np.ascontiguousarray(lin, np.float32).reshape(-1, 1, 3), M1)
    return cv2.transform(np.cbrt(np.maximum(lms, 0.0)), M2).reshape(lin.shape)


def oklab_to_linear(lab: np.ndarray) -> np.ndarray:
    """Oklab ``[..., 3]`` → linear sRGB float32 ``[..., 3]`` (may leave [0, 1] out of gamut)."""
    lms_ = cv2.transform(np.ascontiguousarray(lab, np.float32).reshape(-1, 1, 3), M2_INV)
    return cv2.transform(lms_ * lms_ * lms_, M1_INV).reshape(lab.shape)


def rgb8_to_oklab(frame: np.ndarray) -> np.ndarray:
    """uint8 sRGB ``[H, W, 3]`` → Oklab float32 ``[H, W, 3]``."""
    return linear_to_oklab(cv2.LUT(frame, SRGB_TO_LINEAR))


def lch_to_rgb8(lightness: np.ndarray, chroma: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """OKLCh planes ``[H, W]`` (hue in radians) → uint8 sRGB ``[H, W, 3]``, rounded."""
    a, b = cv2.polarToCart(chroma, hue)
    lin = oklab_to_linear(cv2.merge([lightness, a, b]))
    return cv2.convertScaleAbs(srgb_encode(lin).astype(np.float32), alpha=255.0)


@functools.lru_cache(maxsize=1)
def gamut_table() -> np.ndarray:
    """``C_max`` of the sRGB gamut, float32 ``[GAMUT_L, GAMUT_H + 1]`` over L ∈ [0, 1] (rows) and
    hue ∈ [0, 2π] (columns; the last repeats the first so lookups wrap without a border mode).

    Found by bisection on chroma at each grid point; 0.3 s once per process."""
    lightness = np.linspace(0.0, 1.0, GAMUT_L)[:, None, None]
    hue = (np.arange(GAMUT_H) * TWO_PI / GAMUT_H)[None, :, None]
    direction = np.concatenate([np.cos(hue), np.sin(hue)], axis=-1)
    lo = np.zeros((GAMUT_L, GAMUT_H))
    hi = np.full((GAMUT_L, GAMUT_H), 0.5)  # beyond sRGB's largest Oklab chroma (≈0.32)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lab = np.concatenate(
            [np.broadcast_to(lightness, mid.shape + (1,)), mid[..., None] * direction], axis=-1
        )
        lms = (lab @ _M2_INV.T) ** 3
        rgb = lms @ _M1_INV.T
        inside = np.all((rgb >= -1e-7) & (rgb <= 1.0 + 1e-7), axis=-1)
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    table = np.concatenate([lo, lo[:, :1]], axis=1).astype(np.float32)
    table.flags.writeable = False
    return table


def max_chroma(lightness: np.ndarray, hue: np.ndarray) -> np.ndarray:
    """Bilinear ``C_max(L, h)`` for planes ``[H, W]`` (float32, hue in radians [0, 2π))."""
    table = gamut_table()
    x = (hue * (GAMUT_H / TWO_PI)).astype(np.float32)
    y = (np.clip(lightness, 0.0, 1.0) * (GAMUT_L - 1)).astype(np.float32)
    return cv2.remap(table, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def soft_clip_chroma(chroma, limit, *, knee: float):
    """Chroma below ``knee · limit`` unchanged; above it compressed by a rational shoulder
    ``x / (1 + x)`` that approaches ``limit`` without reaching it (C¹-continuous, monotone, and
    slow to saturate, so strongly pushed colours keep their gradation instead of piling up on
    the gamut boundary). Numpy arrays or torch tensors."""
    start = knee * limit
    room = (limit - start).clip(1e-6)
    over = (chroma - start).clip(0.0) / room
    out = namespace(over).where(over > 0.0, start + room * over / (1.0 + over), chroma)
    return out.astype(np.float32) if isinstance(out, np.ndarray) else out


def namespace(x):
    """``numpy`` for an array, ``torch`` for a tensor: the elementwise steps that are written
    once (:func:`soft_clip_chroma`, ``colour_fx.grade_lch``) run on either, so the torch chain
    on a GPU is this code rather than a copy of it."""
    if isinstance(x, np.ndarray | np.generic | float | int):
        return np
    import torch

    return torch
