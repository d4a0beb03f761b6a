"""Reactivity of a rendered video: does the picture move with the music?

The video is decoded by FFmpeg at 64×36 grey (cheap, and enough to see motion); the change of
frame ``i`` is the mean absolute difference to frame ``i-1`` in [0, 1]. From that series:

- ``onset_pearson``/``onset_spearman``: correlation of change with onset strength, at the lag
  (0 or 1 frame; the picture may answer one frame late) where Pearson is larger;
- ``beat_accent_rate``: share of beats whose frame or the next one is an *accent* — a change
  above the local median + 3 MAD of the surrounding second and above a noise floor;
  ``beat_accent_chance`` is the same share for every frame (what randomly placed beats get);
- ``section_hit_rate``: share of section boundaries (after 0 s) where the change averaged over
  half a second starting at the boundary exceeds the 90th percentile of that average.

A static video scores 0 everywhere (no change → no accents, correlations defined as 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import median_filter
from scipy.stats import pearsonr, spearmanr

from renderer.encode.media import decode_video

SIZE = (64, 36)  # (W, H) of the analysis frames
NOISE_FLOOR = 2e-3  # change below ≈½ grey level is encoder noise, never an accent
MAD_FACTOR = 3.0  # ≈ 2σ for Gaussian change noise: few accents by chance


def frame_changes(
    video_path: str | Path, *, size: tuple[int, int] = SIZE, ffmpeg_path: str | Path | None = None
) -> np.ndarray:
    """Mean absolute frame difference ``[N]`` in [0, 1] (``change[0] = 0``) of a video file."""
    width, height = size
    # area averaging: every source pixel counts, so small moving details are not skipped
    vf = f"scale={width}:{height}:flags=area,format=gray"
    frames = decode_video(video_path, vf=vf, size=size, channels=1, ffmpeg_path=ffmpeg_path)
    frames = frames.reshape(len(frames), -1).astype(np.float32)
    count = len(frames)
    change = np.zeros(count)
    if count > 1:
        change[1:] = np.abs(np.diff(frames, axis=0)).mean(axis=1) / 255.0
    return change


def accents(change: np.ndarray, *, fps: float) -> np.ndarray:
    """Boolean ``[N]``: change above the running median + 3·MAD of ±½ s and the noise floor."""
    change = np.asarray(change, dtype=np.float64)
    window = max(3, int(round(fps)) | 1)
    median = median_filter(change, size=window, mode="nearest")
    mad = median_filter(np.abs(change - median), size=window, mode="nearest")
    return (change > median + MAD_FACTOR * mad) & (change > NOISE_FLOOR)


def _correlations(change: np.ndarray, onset: np.ndarray) -> tuple[float, float, int]:
    best = (0.0, 0.0, 0)
    for lag in (0, 1):
        x = onset[: len(onset) - lag] if lag else onset
        y = change[lag : lag + len(x)]
        if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        pearson = float(pearsonr(x, y)[0])
        if lag == 0 or pearson > best[0]:
            best = (pearson, float(spearmanr(x, y)[0]), lag)
    return best


def reactivity_from_changes(
    change: np.ndarray,
    *,
    fps: float,
    onset: np.ndarray,
    beats: np.ndarray,
    section_starts: np.ndarray,
) -> dict[str, Any]:
    """Reactivity figures from a change series ``[N]``, onsets ``[N]``, beat/section times (s)."""
    n = min(len(change), len(onset))
    change = np.asarray(change[:n], dtype=np.float64)
    onset = np.asarray(onset[:n], dtype=np.float64)
    pearson, spearman, lag = _correlations(change, onset)
    accent = accents(change, fps=fps)
    # "within one frame": the beat's own frame or the next one
    near = accent | np.concatenate([accent[1:], [False]])
    beat_frames = np.round(np.asarray(beats, dtype=np.float64) * fps).astype(int)
    beat_frames = beat_frames[(beat_frames >= 0) & (beat_frames < n)]
    beat_rate = float(near[beat_frames].mean()) if len(beat_frames) else 0.0
    section_frames = np.round(np.asarray(section_starts, dtype=np.float64) * fps).astype(int)
    section_frames = section_frames[(section_frames > 0) & (section_frames < n)]
    half = max(1, int(round(0.5 * fps)))
    # mean change over [f, f + half): a dissolve spreads the scene change over several frames
    csum = np.concatenate([[0.0], np.cumsum(change)])
    ends = np.minimum(np.arange(n) + half, n)
    windowed = (csum[ends] - csum[:n]) / np.maximum(ends - np.arange(n), 1)
    threshold = max(float(np.percentile(windowed, 90)), NOISE_FLOOR) if n else NOISE_FLOOR
    hits = [bool(windowed[max(0, f - 1) : f + 2].max() > threshold) for f in section_frames]
    return {
        "frames": int(n),
        "mean_change": float(change.mean()) if n else 0.0,
        "onset_pearson": round(pearson, 4),
        "onset_spearman": round(spearman, 4),
        "onset_lag": lag,
        "beats": int(len(beat_frames)),
        "beat_accent_rate": round(beat_rate, 4),
        "beat_accent_chance": round(float(near.mean()) if n else 0.0, 4),
        "sections": int(len(section_frames)),
        "section_hit_rate": round(float(np.mean(hits)), 4) if hits else None,
    }


def measure_reactivity(
    video_path: str | Path, *, frames: Any, analysis: Any, ffmpeg_path: str | Path | None = None
) -> dict[str, Any]:
    """Reactivity of a rendered video against its track's FrameFeatures and Analysis."""
    change = frame_changes(video_path, ffmpeg_path=ffmpeg_path)
    sections = getattr(analysis, "sections", []) or []
    result = reactivity_from_changes(
        change,
        fps=float(frames.fps),
        onset=np.asarray(frames.onset),
        beats=np.asarray(analysis.beats),
        section_starts=np.array([s.start for s in sections]),
    )
    result["video_frames"] = int(len(change))
    result["feature_frames"] = int(frames.n_frames)
    return result
