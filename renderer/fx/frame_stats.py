"""Picture statistics of rendered frames, the measures of the visual-quality bars (issue 9/12).

* ``sharpness``: mean |Laplacian| of the grey frame divided by the same of the frame box-filtered
  to ¼ size — native detail scores high (the training images 0.69), an enlargement low (a 4×
  bicubic one 0.15). Grain and codec noise raise it, so measure with grain off and read it
  together with ``contrast``.
* ``saturation``: mean HSV saturation (0–1).
* ``contrast``: standard deviation of the grey levels (0–255).
* ``luma``: mean grey level (0–255).

Grey is OpenCV's RGB→GRAY (BT.601 weights); the Laplacian is the 4-neighbour kernel.

``edge_width`` complements ``sharpness``, which pixel-scale pattern alone can raise: the median
width in pixels of the frame's strongest edges (a hard step 1, a 4× bicubic enlargement of one
~4). It is reported beside the bars, not one of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

# The bars every preset must hold (issues 9 and 12): name → (low, high); None = unbounded.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "sharpness": (0.5, None),
    "saturation": (0.36, 0.60),
    "contrast": (30.0, None),
    "luma": (50.0, 200.0),
}


@dataclass(frozen=True)
class FrameStats:
    sharpness: float
    saturation: float
    contrast: float
    luma: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def failures(self) -> list[str]:
        """``name=value outside [lo, hi]`` for each measure outside :data:`RANGES`."""
        bad = []
        for name, (lo, hi) in RANGES.items():
            value = getattr(self, name)
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                bad.append(f"{name}={value:.3f} outside [{lo}, {hi}]")
        return bad


def sharpness(grey: np.ndarray) -> float:
    """Mean |Laplacian| of ``grey [H, W]`` over the same at ¼ size (box filter, ``INTER_AREA``)."""
    grey = np.asarray(grey, dtype=np.float32)
    h, w = grey.shape
    small = cv2.resize(grey, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA)
    full = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1)).mean()
    quarter = np.abs(cv2.Laplacian(small, cv2.CV_32F, ksize=1)).mean()
    return float(full / quarter) if quarter > 0 else 0.0


def edge_width(grey: np.ndarray, *, rise: float = 64.0, window: int = 17) -> float:
    """Median width in pixels of the strongest edges of ``grey [H, W]`` (0–255), NaN if none.

    Along rows and along columns, an edge is where the step between adjacent pixels peaks. Its
    width is the grey range over ``window`` pixels around it (the edge's height) over that step
    (its steepness): a step that rises at once gives 1, a Gaussian-blurred one about 2.5 σ (its
    10–90 % rise) up to about ``window``. Only edges at least ``rise`` grey levels high count,
    and of those the 10 % with the largest steps, so smooth gradients and grain do not decide it.
    """
    grey = np.asarray(grey, dtype=np.float32)
    kernel = np.ones((1, window), np.uint8)
    steps, spans = [], []
    for g in (grey, grey.T):
        span = (cv2.dilate(g, kernel) - cv2.erode(g, kernel))[:, 1:-2]
        step = np.abs(np.diff(g, axis=1))
        mid = step[:, 1:-1]
        peak = (mid >= step[:, :-2]) & (mid > step[:, 2:]) & (span >= rise)
        steps.append(mid[peak])
        spans.append(span[peak])
    step, span = np.concatenate(steps), np.concatenate(spans)
    if step.size == 0:
        return float("nan")
    strongest = np.argsort(step)[-max(1, step.size // 10) :]
    return float(np.median(span[strongest] / step[strongest]))


def grey_of(frame: np.ndarray) -> np.ndarray:
    """The float32 grey ``[H, W]`` (0–255) that the measures read, of a uint8 RGB frame."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 [H, W, 3], got {frame.dtype} {frame.shape}")
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)


def frame_stats(frame: np.ndarray) -> FrameStats:
    """The four measures of one uint8 RGB frame ``[H, W, 3]``."""
    grey = grey_of(frame)
    hsv_s = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 1]
    return FrameStats(
        sharpness=sharpness(grey),
        saturation=float(hsv_s.mean() / 255.0),
        contrast=float(grey.std()),
        luma=float(grey.mean()),
    )


def mean_stats(frames) -> FrameStats:
    """Per-measure mean over frames (an iterable of ``[H, W, 3]`` uint8)."""
    rows = [frame_stats(f) for f in frames]
    if not rows:
        raise ValueError("mean_stats: no frames")
    return FrameStats(**{k: float(np.mean([getattr(r, k) for r in rows])) for k in RANGES})
