"""Auto-exposure, auto-contrast and auto-saturation from a frame's own statistics.

Each decision is a pure function of the frame it grades (measured on a strided sample of about
8,000 pixels), so a chunk can render any frame alone: no state, no warm-up, the same result
whether the frame is the first of a chunk or the thousandth of a whole render. Decisions are
continuous in the picture (a frame that moves a little moves its grade a little) and quantised
(:data:`STOPS_STEP`, :data:`CONTRAST_STEP`, :data:`CHROMA_STEP`) so that tone tables can be
cached and a rounding difference in the last float bit does not change a frame.

What is held is what the viewer sees and what ``renderer/fx/quality.py`` measures on the encoded
file: the mean and standard deviation of the 8-bit grey frame and the mean HSV saturation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import cv2
import numpy as np

SAMPLE_PIXELS = 8192  # pixels measured per frame (strided grid) for the exposure
COLOUR_PIXELS = 2048  # for the Oklab grade, whose trial renders cost more per pixel
STOPS_STEP = 1.0 / 64.0
CONTRAST_STEP = 1.0 / 64.0
CHROMA_STEP = 1.0 / 128.0  # log2 of the chroma gain
LEVEL_STEP = 1.0 / 256.0  # log2 of the lightness level
MAX_CONTRAST = 4.0  # a flat frame (grey std ≈ 10) can still reach the bar
LUMA_TOL = 0.5  # grey levels: solving closer than this changes no table
SATURATION_TOL = 0.003
MAX_CHROMA_GAIN = 4.0
ITERATIONS = 6
ROUNDS = 2  # saturation ↔ contrast rounds of the Oklab grade


def sample_stride(height: int, width: int, *, pixels: int = SAMPLE_PIXELS) -> int:
    """Stride of a measuring grid of about ``pixels`` on a ``H × W`` frame (1 when small)."""
    return max(1, int(round(math.sqrt(height * width / pixels))))


def sample(frame: np.ndarray, *, pixels: int = SAMPLE_PIXELS) -> np.ndarray:
    """A contiguous strided sample ``[h, w, C]`` (or ``[h, w]``) of a frame ``[H, W, C]``."""
    step = sample_stride(*frame.shape[:2], pixels=pixels)
    return np.ascontiguousarray(frame[step // 2 :: step, step // 2 :: step])


def grey_stats(rgb: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of the 8-bit grey (Rec. 601 luma) of uint8 RGB ``[h, w, 3]``."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    mean, std = cv2.meanStdDev(grey)
    return float(mean[0, 0]), float(std[0, 0])


def _solve(
    f: Callable[[float], float],
    target: float,
    *,
    start: tuple[float, float],
    guess: float,
    bounds: tuple[float, float],
    tol: float,
) -> float:
    """``x`` within ``bounds`` where the increasing ``f(x)`` is within ``tol`` of ``target``,
    by the secant method from ``start = (x0, f(x0))`` (a point already measured) and ``guess``,
    clamped to the bounds (a bound when the target is out of reach); at most
    :data:`ITERATIONS` evaluations of ``f``. Deterministic: the same ``f`` gives the same ``x``."""
    lo, hi = bounds
    (x0, f0), x1 = start, min(max(guess, lo), hi)
    for _ in range(ITERATIONS):
        if x1 == x0:
            return x1
        f1 = f(x1)
        if abs(f1 - target) <= tol or f1 == f0:
            return x1
        x2 = min(max(x1 + (target - f1) * (x1 - x0) / (f1 - f0), lo), hi)
        if x2 == x1:  # pinned to a bound: the target is out of reach
            return x1
        x0, f0, x1 = x1, f1, x2
    return x1


def mean_hsv_saturation(rgb: np.ndarray) -> float:
    """Mean HSV saturation (0–1) of uint8 RGB ``[h, w, 3]``, as OpenCV's HSV computes it."""
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].mean()) / 255.0


def _quantise(value: float, step: float) -> float:
    return round(value / step) * step


def desired_luma(
    mean: float, *, target: float, strength: float, luma_range: tuple[float, float] | None
) -> float:
    """Where a frame of mean grey ``mean`` should land: pulled towards ``target`` by ``strength``
    in log space (1: exactly the target, 0: unchanged), then clamped into ``luma_range``."""
    mean = max(mean, 1.0)
    want = math.exp(math.log(target) + (1.0 - strength) * (math.log(mean) - math.log(target)))
    if luma_range is not None:
        want = min(max(want, luma_range[0]), luma_range[1])
    return want


def solve_exposure(
    measure: Callable[[float], float],
    *,
    base_stops: float,
    target: float,
    strength: float,
    luma_range: tuple[float, float] | None,
    max_stops: float,
) -> float:
    """Stops of the tone table for one frame: ``measure(stops)`` returns the grey mean of the
    frame graded with that table; the result is searched within ``base_stops ± max_stops``."""
    now = measure(base_stops)
    want = desired_luma(now, target=target, strength=strength, luma_range=luma_range)
    if abs(want - now) < LUMA_TOL:
        return base_stops
    stops = _solve(measure, want, start=(base_stops, now),
                   guess=base_stops + math.log2(want / max(now, 1.0)),
                   bounds=(base_stops - max_stops, base_stops + max_stops), tol=LUMA_TOL)  # fmt: skip
    return _quantise(stops, STOPS_STEP)


# (chroma gain, contrast, level) → grey mean, grey std, mean HSV saturation of the graded sample
Render = Callable[[float, float, float], tuple[float, float, float]]


def _hold_saturation(
    saturation: Callable[[float], float], *, gain: float, saturation_range: tuple[float, float]
) -> float:
    """``gain`` if ``saturation(gain)`` is inside the range, else the gain that puts it on the
    nearer bound (within ÷/× :data:`MAX_CHROMA_GAIN` of ``gain``), quantised."""
    gain = max(gain, 1.0 / 256.0)  # a grey-out (gain 0) still has a log
    lo, hi = saturation_range
    current = saturation(gain)
    if lo <= current <= hi:
        return gain
    span, log_gain = math.log2(MAX_CHROMA_GAIN), math.log2(gain)
    bound = hi if current > hi else lo
    # HSV saturation grows roughly in proportion to the chroma gain below the gamut knee.
    log_gain = _solve(lambda g: saturation(2.0**g), bound, start=(log_gain, current),
                      guess=log_gain + math.log2(bound / max(current, 1e-3)),
                      bounds=(log_gain - span, log_gain + span), tol=SATURATION_TOL)  # fmt: skip
    return 2.0 ** _quantise(log_gain, CHROMA_STEP)


def solve_colour(
    render: Render,
    *,
    gain: float,
    saturation_range: tuple[float, float] | None,
    min_contrast: float,
    mean_target: float,
) -> tuple[float, float, float]:
    """``(chroma gain, contrast, level)`` of the Oklab grade for one frame.

    The chroma gain holds the mean HSV saturation inside ``saturation_range`` (the creative
    ``gain`` where it already is); the contrast (a slope on lightness about the frame's mean,
    1 … :data:`MAX_CONTRAST`) raises the grey spread to ``min_contrast``; the level (a gain on
    lightness and chroma together, ÷/× 2) then puts the grey mean back on ``mean_target`` (the
    frame's grey mean before this grade: a desaturated colour is brighter in Rec. 601 grey than
    the saturated one of the same Oklab lightness). The saturation is re-held once after the
    contrast and level have moved it.
    """
    contrast, level = 1.0, 1.0
    render = functools.lru_cache(maxsize=None)(render)  # the solves revisit their start points

    def hold(g: float) -> float:
        if saturation_range is None:
            return g
        return _hold_saturation(lambda x: render(x, contrast, level)[2], gain=g,
                                saturation_range=saturation_range)  # fmt: skip

    for _ in range(ROUNDS):  # each hold moves the others a little: two rounds settle them
        gain = hold(gain)
        spread = render(gain, contrast, level)[1]
        if min_contrast > 0.0 and spread < min_contrast - LUMA_TOL:
            contrast = _solve(lambda k, g=gain, lv=level: render(g, k, lv)[1], min_contrast,
                              start=(contrast, spread), bounds=(1.0, MAX_CONTRAST), tol=LUMA_TOL,
                              guess=contrast * min_contrast / max(spread, 1.0))  # fmt: skip
            contrast = _quantise(contrast, CONTRAST_STEP)
        now = render(gain, contrast, level)[0]
        if abs(now - mean_target) >= LUMA_TOL:
            step = math.log2(mean_target / max(now, 1.0)) / 1.5  # grey ∝ L^≈1.5 in mid-tones
            log_level = _solve(lambda e, g=gain, k=contrast: render(g, k, 2.0**e)[0], mean_target,
                               start=(math.log2(level), now), bounds=(-1.0, 1.0), tol=LUMA_TOL,
                               guess=math.log2(level) + step)  # fmt: skip
            level = 2.0 ** _quantise(log_level, LEVEL_STEP)
    return hold(gain), contrast, level
