"""Colour effects at the decode size: ``tone`` (exposure, auto-exposure/contrast, soft knees, tone
curve), ``lut`` (creative 3D LUT) and ``colour`` (hue-preserving chroma gain held inside the
preset's saturation range, with a soft clip against the sRGB gamut in Oklab).

The auto decisions are made per frame from the frame itself (:mod:`renderer.fx.autograde`), so
these effects carry no state. The tone decision measures the frame through the tone table *and*
the creative LUT, so the luma that is held is the one that leaves the grade; beat pulses and
scene-cut flashes are added on top, in stops, after the auto exposure.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from renderer.config.models import PostFXConfig
from renderer.fx.autograde import (
    COLOUR_PIXELS,
    SAMPLE_PIXELS,
    STOPS_STEP,
    grey_stats,
    mean_hsv_saturation,
    sample,
    solve_colour,
    solve_exposure,
)
from renderer.fx.grading import (
    cube_delta_table,
    load_cube,
    resolve_lut,
    soft_range,
    tone_lut,
    vignette_mask,
)
from renderer.fx.oklab import lch_to_rgb8, max_chroma, rgb8_to_oklab, soft_clip_chroma
from renderer.fx.registry import Ctx, Effect, register

Frame = Callable[[np.ndarray], np.ndarray]


@functools.lru_cache(maxsize=8)
def lut_tables(lut: str, strength: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    add, sub = cube_delta_table(load_cube(resolve_lut(lut)), strength=strength)
    # Packed RGBA words so one np.take gathers a pixel's three offsets.
    add32 = np.zeros((len(add), 4), np.uint8)
    sub32 = np.zeros((len(sub), 4), np.uint8)
    add32[:, :3], sub32[:, :3] = add, sub
    v = np.arange(256) >> 3  # 5-bit bins (grading.CUBE_BITS)
    bins = np.stack([v << 10, v << 5, v], axis=-1).astype(np.uint16).reshape(1, 256, 3)
    return add32.view(np.uint32).ravel(), sub32.view(np.uint32).ravel(), bins


def lut_applier(settings: PostFXConfig) -> Frame | None:
    """``uint8 [H, W, 3] → uint8 [H, W, 3]`` for the settings' 3D LUT, or ``None`` when off."""
    if settings.lut is None or settings.lut_strength == 0.0:
        return None
    add32, sub32, bins = lut_tables(settings.lut, float(settings.lut_strength))

    def apply(frame: np.ndarray) -> np.ndarray:
        parts = cv2.LUT(frame, bins)
        idx = parts[..., 0] + parts[..., 1] + parts[..., 2]
        rgba = (*idx.shape, 4)
        plus = cv2.cvtColor(np.take(add32, idx).view(np.uint8).reshape(rgba), cv2.COLOR_RGBA2RGB)
        minus = cv2.cvtColor(np.take(sub32, idx).view(np.uint8).reshape(rgba), cv2.COLOR_RGBA2RGB)
        return cv2.subtract(cv2.add(frame, plus), minus)

    return apply


FINE = 256  # the solver's tables: stops in 1/256 steps (4× finer than the result)
L_TOE, L_SHOULDER = 0.08, 0.85  # Oklab lightness knees of the contrast (≈ grey 15 and 205)


@functools.lru_cache(maxsize=4096)
def _measure_table(curve: str, stops_key: int) -> np.ndarray:
    return tone_lut(curve, exposure=stops_key / FINE)


@functools.lru_cache(maxsize=8)
def _vignette_sample(width: int, height: int, amount: float, pixels: int = SAMPLE_PIXELS
                     ) -> np.ndarray | None:  # fmt: skip
    if amount == 0.0:
        return None
    return sample(vignette_mask((width, height), amount=amount), pixels=pixels)


def tone_decision(frame: np.ndarray, settings: PostFXConfig) -> float:
    """Stops the ``tone`` effect grades ``frame`` (uint8 ``[H, W, 3]``) with, before pulses: the
    creative exposure alone when auto-exposure is off. The frame is measured through the tone
    table, the creative LUT and the vignette (which darkens it after the grade), so the luma that
    is held is the picture's, corners included."""
    if settings.auto_exposure == 0.0 and settings.luma_range is None:
        return settings.exposure
    return tone_decision_sampled(sample(frame), frame.shape[:2], settings)


def tone_decision_sampled(small: np.ndarray, frame_hw: tuple[int, int], settings: PostFXConfig
                          ) -> float:  # fmt: skip
    """:func:`tone_decision` from the frame's measuring sample ``small = sample(frame)`` and its
    ``(H, W)``: what a device-side chain reads back instead of the whole frame."""
    if settings.auto_exposure == 0.0 and settings.luma_range is None:
        return settings.exposure
    lut3d = lut_applier(settings)
    mask = _vignette_sample(frame_hw[1], frame_hw[0], settings.vignette)

    def measure(stops: float) -> float:
        graded = cv2.LUT(small, _measure_table(settings.tone_curve, round(stops * FINE)))
        graded = lut3d(graded) if lut3d else graded
        return grey_stats(graded if mask is None else cv2.multiply(graded, mask, scale=1 / 255))[0]

    return solve_exposure(
        measure,
        base_stops=settings.exposure,
        target=settings.target_luma,
        strength=settings.auto_exposure,
        luma_range=settings.luma_range,
        max_stops=settings.max_auto_stops,
    )


def tone_active(s: PostFXConfig) -> bool:
    """Whether the ``tone`` effect changes anything with these settings."""
    flat = s.exposure == s.pulse_exposure == s.cut_exposure == 0.0
    return not (s.tone_curve == "none" and flat and s.auto_exposure == 0.0 and s.luma_range is None)


@functools.lru_cache(maxsize=1024)
def tone_table(curve: str, stops_key: int) -> np.ndarray:
    """The ``tone`` effect's uint8 table ``[256]`` at ``stops_key · STOPS_STEP`` stops."""
    return tone_lut(curve, exposure=stops_key * STOPS_STEP)


def tone_key(stops: float, s: PostFXConfig, signals: Mapping[str, float]) -> int:
    """:func:`tone_table` key of a frame graded at ``stops`` (its decision) plus its beat pulse
    and scene-cut flash."""
    stops += s.pulse_exposure * float(signals.get("pulse", 0.0)) + s.cut_exposure * float(
        signals.get("scene_cut", 0.0)
    )
    return round(stops / STOPS_STEP)


@register("tone")
def _tone(ctx: Ctx) -> Effect | None:
    s = ctx.settings
    if not tone_active(s):
        return None

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        return cv2.LUT(
            frame, tone_table(s.tone_curve, tone_key(tone_decision(frame, s), s, signals))
        )

    tone_lut(s.tone_curve)  # fail early on an unknown curve name
    return apply


@register("lut")
def _lut(ctx: Ctx) -> Effect | None:
    applier = lut_applier(ctx.settings)
    if applier is None:
        return None
    return lambda frame, index, signals: applier(frame)


@dataclass(frozen=True)
class LchKernels:
    """The per-pixel steps of :func:`grade_lch` that differ between array libraries: the
    lightness curve lookup ``interp(L, grid, curve)`` (float32), ``max_chroma(L, h)`` and
    ``lch_to_rgb8(L, C, h)``. The default is OpenCV/numpy; ``renderer/fx/torch_ops.py`` has the
    torch ones, so the same grade runs on a GPU."""

    interp: Callable
    max_chroma: Callable
    lch_to_rgb8: Callable


CV_KERNELS = LchKernels(
    interp=lambda x, grid, curve: np.interp(x, grid, curve).astype(np.float32),
    max_chroma=max_chroma,
    lch_to_rgb8=lch_to_rgb8,
)


def grade_lch(planes, *, mean_l: float, gain: float, contrast: float, level: float,
              knee: float, kernels: LchKernels = CV_KERNELS):  # fmt: skip
    """OKLCh planes ``[3, H, W]`` (L, C, h) → graded uint8 RGB ``[H, W, 3]`` (numpy arrays, or
    torch tensors with the torch ``kernels``).

    Lightness: ``level · (mean_l + contrast · (L − mean_l))``, brought into [0, 1] by the soft
    knees of :func:`~renderer.fx.grading.soft_range`; chroma follows the lightness (C/L kept, so
    a contrast or level change is not a saturation change), times ``gain``, then soft-clipped
    against the gamut boundary at the new lightness and the same hue.
    """
    lightness, chroma, hue = planes
    new_l = lightness
    if contrast != 1.0 or level != 1.0:
        low, high = level * mean_l * (1.0 - contrast), level * (mean_l + contrast * (1 - mean_l))
        grid = np.linspace(0.0, 1.0, 257)
        curve = soft_range(low + (high - low) * grid, low=low, high=high, toe=L_TOE,
                           shoulder=L_SHOULDER)  # fmt: skip
        new_l = kernels.interp(lightness, grid, curve)
        chroma = chroma * (new_l / lightness.clip(1e-4))
    limit = kernels.max_chroma(new_l, hue)
    chroma = soft_clip_chroma(chroma * np.float32(gain), limit, knee=knee)
    return kernels.lch_to_rgb8(new_l, chroma, hue)


def colour_decision(frame: np.ndarray, planes: np.ndarray, settings: PostFXConfig
                    ) -> tuple[float, float, float, float]:  # fmt: skip
    """``(mean_l, gain, contrast, level)`` of the Oklab grade of ``frame`` (its OKLCh
    ``planes [3, H, W]``): the creative saturation alone when nothing is held."""
    small = np.stack([sample(p, pixels=COLOUR_PIXELS) for p in planes])
    return colour_decision_sampled(small, sample(frame, pixels=COLOUR_PIXELS), frame.shape[:2],
                                   settings)  # fmt: skip


def colour_decision_sampled(small: np.ndarray, small_rgb: np.ndarray, frame_hw: tuple[int, int],
                            settings: PostFXConfig) -> tuple[float, float, float, float]:  # fmt: skip
    """:func:`colour_decision` from the measuring samples (``COLOUR_PIXELS``) of the frame's
    OKLCh planes ``small [3, h, w]`` and of the frame itself ``small_rgb [h, w, 3]``, and the
    frame's ``(H, W)``."""
    mean_l = float(small[0].mean())
    held = settings.saturation_range is not None or settings.min_contrast > 0.0
    if not held:
        return mean_l, settings.saturation, 1.0, 1.0

    # Grey levels are measured through the vignette, which follows (and lowers mean and spread).
    mask = _vignette_sample(frame_hw[1], frame_hw[0], settings.vignette, COLOUR_PIXELS)

    def vignetted(rgb: np.ndarray) -> np.ndarray:
        return rgb if mask is None else cv2.multiply(rgb, mask, scale=1 / 255)

    def render(gain: float, contrast: float, level: float) -> tuple[float, float, float]:
        rgb = grade_lch(small, mean_l=mean_l, gain=gain, contrast=contrast, level=level,
                        knee=settings.gamut_knee)  # fmt: skip
        return (*grey_stats(vignetted(rgb)), mean_hsv_saturation(rgb))

    gain, contrast, level = solve_colour(
        render,
        gain=settings.saturation,
        saturation_range=settings.saturation_range,
        min_contrast=settings.min_contrast,
        mean_target=grey_stats(vignetted(small_rgb))[0],
    )
    return mean_l, gain, contrast, level


def colour_active(s: PostFXConfig) -> bool:
    """Whether the ``colour`` effect changes anything with these settings."""
    return not (s.saturation == 1.0 and s.saturation_range is None and s.min_contrast == 0.0)


def lch_planes(frame: np.ndarray) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]`` → OKLCh planes ``[3, H, W]`` float32 (L, C, hue in radians)."""
    lightness, a, b = cv2.split(rgb8_to_oklab(frame))
    chroma, hue = cv2.cartToPolar(a, b)
    return np.stack([lightness, chroma, hue])


@register("colour")
def _colour(ctx: Ctx) -> Effect | None:
    s = ctx.settings
    if not colour_active(s):
        return None

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        planes = lch_planes(frame)
        mean_l, gain, contrast, level = colour_decision(frame, planes, s)
        return grade_lch(planes, mean_l=mean_l, gain=gain, contrast=contrast, level=level,
                         knee=s.gamut_knee)  # fmt: skip

    return apply
