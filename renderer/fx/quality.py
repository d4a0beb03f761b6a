"""Rows of the visual-quality table (issue 9): the measures of :mod:`renderer.fx.frame_stats`
(sharpness, saturation, contrast, mean luma) over frames of an *encoded* video, read back with
FFmpeg at the video's full size one frame per second, and over sets of still images (the
training images, natively and enlarged).

Used by ``benchmarks/visual_quality.py``; importable on its own (numpy, OpenCV and FFmpeg only),
so other backends measure their pictures the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from renderer.fx.frame_stats import RANGES, FrameStats, edge_width, frame_stats, grey_of

MEASURES = tuple(RANGES)  # sharpness, saturation, contrast, luma


def sample_indices(n_frames: int, *, fps: float, every: float = 1.0) -> list[int]:
    """Frame indices one per ``every`` seconds, from the first frame: ``0, fps·every, …``."""
    if n_frames <= 0 or fps <= 0 or every <= 0:
        raise ValueError(f"need n_frames, fps, every > 0 (got {n_frames}, {fps}, {every})")
    step = max(1, int(round(fps * every)))
    return list(range(0, n_frames, step))


def encoded_frames(
    path: str | Path, *, every: float = 1.0, ffmpeg_path: str | None = None
) -> list[np.ndarray]:
    """Frames of the video file ``path`` one per ``every`` seconds (indices of
    :func:`sample_indices`), decoded by FFmpeg at the file's own size: uint8 RGB ``[H, W, 3]``
    each, what a viewer of the file sees."""
    from renderer.encode.media import decode_video, probe_media

    info = probe_media(path, ffmpeg_path=ffmpeg_path)
    if not info.get("frames") or not info.get("width"):
        raise ValueError(f"{path}: no video stream to measure")
    size = (int(info["width"]), int(info["height"]))
    indices = sample_indices(int(info["frames"]), fps=float(info["fps"]), every=every)
    step = indices[1] - indices[0] if len(indices) > 1 else int(info["frames"])
    frames = decode_video(path, vf=f"select=not(mod(n\\,{step})),format=rgb24", size=size,
                          channels=3, ffmpeg_path=ffmpeg_path, passthrough=True)  # fmt: skip
    return [frame.copy() for frame in frames[: len(indices)]]


def summarise(stats: Sequence[FrameStats]) -> dict[str, float]:
    """Mean of each measure, plus the per-frame extremes of luma and saturation (``luma_min``,
    ``luma_max``, ``saturation_min``, ``saturation_max``) and the frame count ``n``."""
    if not stats:
        raise ValueError("no frames to summarise")
    table = {name: np.array([getattr(s, name) for s in stats]) for name in MEASURES}
    row = {name: float(values.mean()) for name, values in table.items()}
    for name in ("luma", "saturation"):
        row[f"{name}_min"], row[f"{name}_max"] = (
            float(table[name].min()),
            float(table[name].max()),
        )
    row["n"] = len(stats)
    return row


def frames_row(frames: Iterable[np.ndarray]) -> dict[str, float | None]:
    """:func:`summarise` of :func:`~renderer.fx.frame_stats.frame_stats` over uint8 RGB frames,
    with ``edge_width``: the median over the frames that have a strong edge (None if none has)."""
    frames = list(frames)
    row = summarise([frame_stats(f) for f in frames])
    widths = np.array([edge_width(grey_of(f)) for f in frames])
    widths = widths[~np.isnan(widths)]
    row["edge_width"] = float(np.median(widths)) if widths.size else None
    return row


def video_row(
    path: str | Path, *, every: float = 1.0, ffmpeg_path: str | None = None
) -> dict[str, float]:
    """The table row of one encoded video."""
    return frames_row(encoded_frames(path, every=every, ffmpeg_path=ffmpeg_path))


def enlarge(image: np.ndarray, *, factor: int = 4) -> np.ndarray:
    """Bicubic ``factor``× enlargement of ``[H, W, 3]`` (the "upscaled" reference row)."""
    h, w = image.shape[:2]
    return cv2.resize(image, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC)


def failures(row: dict[str, float], *, skip: Iterable[str] = ()) -> list[str]:
    """``name=value outside [lo, hi]`` for each mean measure of ``row`` outside the bars."""
    out = []
    for name, (lo, hi) in RANGES.items():
        if name in skip or name not in row:
            continue
        value = row[name]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            out.append(f"{name}={value:.3f} outside [{lo}, {hi}]")
    return out
