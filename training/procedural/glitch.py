"""Glitch bucket: another bucket's image run through pixel sorting, channel displacement,
block shifts, slice offsets, macroblock posterisation and scanlines (a random subset each time)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Image = np.ndarray


def pixel_sort(img: Image, rng: np.random.Generator) -> Image:
    """Sort the bright run of each chosen row (or column) by luma."""
    transposed = rng.random() < 0.4
    out = np.ascontiguousarray(img.transpose(1, 0, 2) if transposed else img)
    out = out.copy()
    luma = out.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lo, hi = np.sort(rng.uniform(40, 220, 2))
    rows = np.flatnonzero(rng.random(out.shape[0]) < rng.uniform(0.4, 1.0))
    for y in rows:
        inside = (luma[y] > lo) & (luma[y] < hi)
        if not inside.any():
            continue
        start = int(np.argmax(inside))
        stop = out.shape[1] - int(np.argmax(inside[::-1]))
        order = np.argsort(luma[y, start:stop], kind="stable")
        out[y, start:stop] = out[y, start:stop][order]
    return np.ascontiguousarray(out.transpose(1, 0, 2)) if transposed else out


def channel_shift(img: Image, rng: np.random.Generator) -> Image:
    """RGB split: red and blue planes displaced in opposite directions."""
    out = img.copy()
    dx, dy = int(rng.integers(3, 14)), int(rng.integers(-4, 5))
    out[..., 0] = np.roll(img[..., 0], (dy, dx), axis=(0, 1))
    out[..., 2] = np.roll(img[..., 2], (-dy, -dx), axis=(0, 1))
    return out


def block_shift(img: Image, rng: np.random.Generator) -> Image:
    """Rectangular blocks shifted sideways (a corrupted stream)."""
    out = img.copy()
    size_h, size_w = img.shape[:2]
    for _ in range(int(rng.integers(4, 14))):
        # min/max keep 32-pixel images valid; from 36 px up the draws are the original ones.
        h, w = int(rng.integers(3, min(36, size_h))), int(rng.integers(24, size_w))
        y, x = int(rng.integers(0, max(size_h - h, 1))), int(rng.integers(0, size_w - w + 1))
        out[y : y + h, x : x + w] = np.roll(
            out[y : y + h, x : x + w], int(rng.integers(-48, 48)), 1
        )
    return out


def slices(img: Image, rng: np.random.Generator) -> Image:
    """Horizontal slices offset with wrap-around, some with a channel swap."""
    out = img.copy()
    y = 0
    while y < img.shape[0]:
        h = int(rng.integers(2, 24))
        if rng.random() < 0.35:
            out[y : y + h] = np.roll(out[y : y + h], int(rng.integers(-30, 30)), 1)
            if rng.random() < 0.3:
                out[y : y + h] = out[y : y + h][..., rng.permutation(3)]
        y += h
    return out


def macroblocks(img: Image, rng: np.random.Generator) -> Image:
    """Some 16² blocks flattened to their mean and posterised, like a broken codec."""
    out = img.copy()
    b = 16
    step = int(rng.choice([32, 48, 64]))
    for y in range(0, img.shape[0], b):
        for x in range(0, img.shape[1], b):
            if rng.random() < 0.12:
                block = out[y : y + b, x : x + b].astype(np.int32)
                out[y : y + b, x : x + b] = (
                    block.mean(axis=(0, 1)) // step * step + step // 2
                ).clip(0, 255)
    return out


def scanlines(img: Image, rng: np.random.Generator) -> Image:
    """Darkened every n-th row."""
    out = img.copy()
    step = int(rng.integers(2, 5))
    out[::step] = (out[::step].astype(np.float32) * rng.uniform(0.6, 0.85)).astype(np.uint8)
    return out


OPERATIONS: tuple[Callable[[Image, np.random.Generator], Image], ...] = (
    pixel_sort, channel_shift, block_shift, slices, macroblocks, scanlines,
)  # fmt: skip


def glitch(rng: np.random.Generator, size: int = 256) -> Image:
    """One glitched image ``[size, size, 3]`` uint8 over an abstract, colour-field or RD base."""
    from training.procedural.abstract import abstract
    from training.procedural.colour_field import colour_field
    from training.procedural.palettes import gradient_map, pick_palette, to_uint8
    from training.procedural.reaction_diffusion import turing_spectral

    kind = int(rng.choice(3, p=[0.5, 0.3, 0.2]))
    if kind == 0:
        img = abstract(rng, size)
    elif kind == 1:
        img = colour_field(rng, size)
    else:
        img = to_uint8(gradient_map(turing_spectral(rng, size=size), pick_palette(rng)))
    # Pixel sorting and an RGB split carry the look; the other operations are sprinkled on top.
    ops = [pixel_sort] if rng.random() < 0.75 else []
    ops += [op for op in OPERATIONS[1:] if rng.random() < 0.45]
    if not ops:
        ops = [block_shift, channel_shift]
    for op in ops:
        img = op(img, rng)
    return np.ascontiguousarray(img)
