"""Effects at the output size: ``resample`` (decode size → output size: the model's learned ×4
upscaler or bicubic, with the lateral chromatic aberration folded in), ``sharpen`` and ``grain``.

They run after the picture is enlarged so that their detail is drawn at the pixels the viewer
sees: 1-pixel grain and a fringe that is a few output pixels wide, instead of grain blobs and
fringes enlarged 4× with a 272×480 decode. Costs at 1080p on the development machine: resample
≈5 ms (three single-plane bicubic resizes), sharpen ≈5 ms, grain ≈5 ms (saturating add/subtract
of a pre-drawn bank).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping

import cv2
import numpy as np

from renderer.fx.registry import Ctx, Effect, register

GRAIN_BANK = 4  # pre-generated grain tiles per track
GRAIN_PAD = 64  # tiles are this much larger than the frame; each frame crops at a random offset
GRAIN_SIGMA = 40.0  # grain std in 8-bit levels at grain_intensity = 1
SHARPEN_SIGMA = 1.0  # output pixels: the unsharp mask lifts detail of about 2-3 px


def seed_words(seed: int, track_id: str, *extra: int) -> list[int]:
    return [int(seed) & 0xFFFFFFFF, zlib.crc32(track_id.encode("utf-8")), *extra]


def _cv_resize(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(plane, size, interpolation=cv2.INTER_CUBIC)


def _cv_reflect(plane: np.ndarray, m: int, n: int) -> np.ndarray:
    return cv2.copyMakeBorder(plane, m, m, n, n, cv2.BORDER_REFLECT)


def plane_resizer(src: tuple[int, int], dst: tuple[int, int], zoom: float, *,
                  resize=_cv_resize, reflect=_cv_reflect):  # fmt: skip
    """``uint8 [..., h, w] → [..., H, W]``: bicubic resize magnified by ``zoom`` about the centre.

    The plane is resized to ``W ± 2n`` × ``H ± 2m`` and cropped (or reflect-padded) by ``n, m``
    each side, so the centre stays exactly in place; the zoom is thus quantised to 2 output
    pixels, a fraction of a pixel of fringe. ``resize(plane, (W, H))`` and
    ``reflect(plane, m, n)`` (edge-repeating padding) are OpenCV's unless given: the torch chain
    passes its own (``renderer/fx/torch_ops.py``).
    """
    width, height = dst
    n, m = round((zoom - 1.0) * width / 2.0), round((zoom - 1.0) * height / 2.0)
    size = (width + 2 * n, height + 2 * m)
    if n == m == 0:
        if src == dst:
            return lambda plane: plane
        return lambda plane: resize(plane, dst)
    if n >= 0 and m >= 0:
        return lambda plane: resize(plane, size)[..., m : m + height, n : n + width]
    return lambda plane: reflect(resize(plane, size), -m, -n)


CROP_SLACK = 0.01  # a 4× frame at most this much larger than the output is cropped, not resized


def _crops(src: tuple[int, int], dst: tuple[int, int]) -> tuple[slice, slice] | None:
    """Centre-crop rows and columns from ``src`` to ``dst`` (both ``(W, H)``) when ``src`` is at
    most :data:`CROP_SLACK` larger (the learned upscaler's 1920×1088 for 1080p), else ``None``:
    a near-1:1 bicubic resample would soften the edges the upscaler drew."""
    (sw, sh), (dw, dh) = src, dst
    if dw <= sw <= dw * (1 + CROP_SLACK) and dh <= sh <= dh * (1 + CROP_SLACK):
        x, y = (sw - dw) // 2, (sh - dh) // 2
        return slice(y, y + dh), slice(x, x + dw)
    return None


def plane_fitter(src: tuple[int, int], dst: tuple[int, int], zoom: float, **ops):
    """:func:`plane_resizer`, but a plane that :func:`_crops` fits and ``zoom`` leaves alone is
    centre-cropped instead of resampled."""
    crop = _crops(src, dst) if zoom == 1.0 else None
    if crop is None:
        return plane_resizer(src, dst, zoom, **ops)
    rows, cols = crop
    return lambda plane: plane[..., rows, cols]


def frame_fitter(src: tuple[int, int], dst: tuple[int, int]):
    """uint8 ``[H', W', 3]`` at ``src`` → ``[H, W, 3]`` at ``dst``: centre-cropped where
    :func:`_crops` allows, else a bicubic resize."""
    crop = _crops(src, dst)
    if crop is None:
        return lambda frame: cv2.resize(frame, dst, interpolation=cv2.INTER_CUBIC)
    rows, cols = crop
    return lambda frame: np.ascontiguousarray(frame[rows, cols])


def resample_planes(ctx: Ctx, **ops) -> list:
    """The red, green and blue resizers from :attr:`Ctx.upscaled_size` to the output size; the
    chroma shift magnifies red and shrinks blue about the centre (lateral chromatic aberration)."""
    amount = ctx.settings.chroma_shift
    zooms = (1.0 + amount, 1.0, 1.0 - amount)
    return [plane_fitter(ctx.upscaled_size, ctx.out_size, z, **ops) for z in zooms]


@register("resample")
def _resample(ctx: Ctx) -> Effect | None:
    shift = ctx.settings.chroma_shift
    if not ctx.learned_upscale and shift == 0.0:
        if ctx.size == ctx.out_size:
            return None
        return lambda frame, index, signals: cv2.resize(
            frame, ctx.out_size, interpolation=cv2.INTER_CUBIC
        )
    upscale = ctx.upscaler.runner().frame if ctx.learned_upscale else None
    if shift == 0.0:
        fit = frame_fitter(ctx.upscaled_size, ctx.out_size)
        return lambda frame, index, signals: fit(upscale(frame))
    red, green, blue = resample_planes(ctx)

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        if upscale is not None:
            frame = upscale(frame)
        r, g, b = cv2.split(frame)
        return cv2.merge([red(r), green(g), blue(b)])

    return apply


@register("sharpen")
def _sharpen(ctx: Ctx) -> Effect | None:
    amount = ctx.settings.sharpen
    if amount == 0.0:
        return None

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        blur = cv2.GaussianBlur(frame, (5, 5), SHARPEN_SIGMA)
        return cv2.addWeighted(frame, 1.0 + amount, blur, -amount, 0.0)

    return apply


@functools.lru_cache(maxsize=2)
def _grain_bank(seed: int, track_id: str, width: int, height: int, sigma: float):
    """Read-only (add, subtract) uint8 planes ``[GRAIN_BANK, H+pad, W+pad, 3]`` for a track.

    Cached: a chunked render builds one PostFX per chunk, and a 1080p bank takes ≈1 s to draw.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed_words(seed, track_id)))
    shape = (GRAIN_BANK, height + GRAIN_PAD, width + GRAIN_PAD, 3)
    # Symmetric clipping keeps the grain zero-mean; split into saturating add/subtract planes.
    noise = np.clip(np.round(rng.standard_normal(shape, dtype=np.float32) * sigma), -255, 255)
    plus = np.maximum(noise, 0).astype(np.uint8)
    minus = np.maximum(-noise, 0).astype(np.uint8)
    plus.flags.writeable = minus.flags.writeable = False
    return plus, minus


def grain_bank(ctx: Ctx) -> tuple[np.ndarray, np.ndarray] | None:
    """The track's grain bank (add, subtract planes), or ``None`` when grain is off."""
    amount = ctx.settings.grain_intensity
    if amount == 0.0:
        return None
    width, height = ctx.out_size
    return _grain_bank(ctx.seed, ctx.track_id, width, height, GRAIN_SIGMA * amount)


def grain_window(ctx: Ctx, index: int) -> tuple[int, slice, slice]:
    """``(tile, rows, columns)`` of the bank that frame ``index`` takes its grain from."""
    width, height = ctx.out_size
    pick = np.random.default_rng(seed_words(ctx.seed, ctx.track_id, index))
    k, dy, dx = pick.integers(0, (GRAIN_BANK, GRAIN_PAD + 1, GRAIN_PAD + 1))
    return int(k), slice(int(dy), int(dy) + height), slice(int(dx), int(dx) + width)


@register("grain")
def _grain(ctx: Ctx) -> Effect | None:
    bank = grain_bank(ctx)
    if bank is None:
        return None
    plus, minus = bank

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        window = grain_window(ctx, index)
        return cv2.subtract(cv2.add(frame, plus[window]), minus[window])

    return apply
