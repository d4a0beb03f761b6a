"""Reactivity of a rendered video: does the picture move with the music?

The video is decoded by FFmpeg at 64×36 grey (cheap, and enough to see motion) and streamed, a
few hundred frames at a time; the change of frame ``i`` is the mean absolute difference to frame
``i-1`` in [0, 1]. From that series:

- ``onset_pearson``/``onset_spearman``: correlation of change with onset strength, at the lag
  (0 or 1 frame; the picture may answer one frame late) where Pearson is larger;
- ``beat_accent_rate``: share of beats whose frame or the next one is an *accent* — a change
  above the local median + 3 MAD of the surrounding second and above a noise floor;
  ``beat_accent_chance`` is the same share for every frame (what randomly placed beats get);
- ``section_hit_rate``: share of section boundaries (after 0 s) where the change averaged over
  half a second starting at the boundary exceeds the 90th percentile of that average.

The beat figures above are *self-referenced* (``beat_reference``): scored against the project's
own detected beats, so they cannot see a wrong beat grid. When reference beats are given (the
tracklist's bpm, a stress-corpus annotation), ``reference_beat_accent_rate`` scores accents
against those, with ``reference_beat_accent_chance`` (the share of all frames) beside it.

A static video scores 0 everywhere (no change → no accents, correlations defined as 0).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import median_filter
from scipy.stats import pearsonr, spearmanr

SIZE = (64, 36)  # (W, H) of the analysis frames
NOISE_FLOOR = 2e-3  # change below ≈½ grey level is encoder noise, never an accent
MAD_FACTOR = 3.0  # ≈ 2σ for Gaussian change noise: few accents by chance


def frame_changes(
    video_path: str | Path,
    *,
    size: tuple[int, int] = SIZE,
    ffmpeg_path: str | Path | None = None,
    frames_per_read: int = 256,
) -> np.ndarray:
    """Mean absolute frame difference ``[N]`` in [0, 1] (``change[0] = 0``) of a video file.

    FFmpeg's decode is read ``frames_per_read`` frames at a time and only the last frame is kept
    between reads, so memory does not grow with the video's length (1 float per frame).
    """
    import subprocess

    from renderer.encode.ffmpeg_bin import find_ffmpeg
    from renderer.encode.ffmpeg_proc import StderrDrain, child_kwargs, describe_exit, reap
    from renderer.errors import FFmpegError

    width, height = size
    # area averaging: every source pixel counts, so small moving details are not skipped
    vf = f"scale={width}:{height}:flags=area,format=gray"
    argv = [str(find_ffmpeg(ffmpeg_path)), "-nostdin", "-v", "error",
            "-protocol_whitelist", "file,pipe", "-i", str(video_path), "-map", "0:v:0",
            "-vf", vf, "-f", "rawvideo", "-"]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **child_kwargs())  # fmt: skip
    drain = StderrDrain(proc.stderr)
    frame_bytes = width * height
    changes: list[np.ndarray] = [np.zeros(0)]
    last: np.ndarray | None = None
    try:
        while raw := proc.stdout.read(frames_per_read * frame_bytes):
            count = len(raw) // frame_bytes
            if not count:
                break
            block = np.frombuffer(raw[: count * frame_bytes], np.uint8).reshape(count, -1)
            block = block.astype(np.float32)
            if last is None:
                changes.append(np.zeros(1))
            stack = block if last is None else np.concatenate([last[None], block])
            changes.append(np.abs(np.diff(stack, axis=0)).mean(axis=1) / 255.0)
            last = block[-1]
        rc = proc.wait()
    finally:
        reap(proc)
    if rc < 0:
        raise FFmpegError(f"{video_path}: {describe_exit(rc)} while decoding the video; that "
                          "says nothing about the file itself")  # fmt: skip
    if rc != 0:
        raise FFmpegError(f"{video_path}: ffmpeg could not decode the video: "
                          f"{drain.tail().strip()[-800:]}")  # fmt: skip
    return np.concatenate(changes).astype(np.float64)


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
    reference_beats: np.ndarray | None = None,
) -> dict[str, Any]:
    """Reactivity figures from a change series ``[N]``, onsets ``[N]``, beat/section times (s);
    ``reference_beats`` (s, optional) are ground-truth beats to score the accents against."""
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
        "beat_reference": "own analysis (self-referenced)",
        **_reference_scores(near, reference_beats, fps=fps),
    }


def _reference_scores(near: np.ndarray, reference_beats: np.ndarray | None, *, fps: float
                      ) -> dict[str, Any]:  # fmt: skip
    """Accent rate on ground-truth beats (s) and its chance rate (``{}`` without a reference)."""
    if reference_beats is None:
        return {}
    n = len(near)
    frames = np.round(np.asarray(reference_beats, dtype=np.float64) * fps).astype(int)
    frames = frames[(frames >= 0) & (frames < n)]
    return {
        "reference_beats": int(len(frames)),
        "reference_beat_accent_rate": round(float(near[frames].mean()), 4) if len(frames) else 0.0,
        "reference_beat_accent_chance": round(float(near.mean()) if n else 0.0, 4),
    }


def reference_beats_from_bpm(*, bpm: float, duration: float, first_beat: float = 0.0
                             ) -> np.ndarray:  # fmt: skip
    """The constant beat grid ``first_beat + k·60/bpm`` (s) up to ``duration``: the reference
    for music whose tempo is known and constant (the bundled album's tracklist)."""
    if bpm <= 0:
        raise ValueError(f"reference_beats_from_bpm: bpm must be > 0, got {bpm}")
    return np.arange(first_beat, duration, 60.0 / bpm)


def reactivity_series(change: np.ndarray, *, fps: float, onset: np.ndarray) -> dict[str, Any]:
    """The picture's change ``[N]`` and the onset envelope ``[N]`` on one time axis, for plots.

    ``N`` is the shorter of the two; ``time[i] = i / fps`` s. ``change`` is as measured (mean
    absolute frame difference in [0, 1]); ``onset`` is divided by its maximum (all zeros when
    it is silent), so it reads in [0, 1] too.
    """
    if fps <= 0:
        raise ValueError(f"reactivity_series: fps must be > 0, got {fps}")
    n = min(len(change), len(onset))
    onset = np.asarray(onset[:n], dtype=np.float64)
    peak = float(onset.max()) if n else 0.0
    return {
        "fps": float(fps),
        "time": np.arange(n) / float(fps),
        "change": np.asarray(change[:n], dtype=np.float64),
        "onset": onset / peak if peak > 0 else np.zeros(n),
    }


def measure_reactivity(
    video_path: str | Path, *, frames: Any, analysis: Any, ffmpeg_path: str | Path | None = None,
    reference_beats: np.ndarray | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Reactivity of a rendered video against its track's FrameFeatures and Analysis (and the
    ground-truth ``reference_beats`` in seconds, when known)."""
    return measure_reactivity_series(
        video_path, frames=frames, analysis=analysis, ffmpeg_path=ffmpeg_path,
        reference_beats=reference_beats,
    )[0]  # fmt: skip


def measure_reactivity_series(
    video_path: str | Path, *, frames: Any, analysis: Any, ffmpeg_path: str | Path | None = None,
    reference_beats: np.ndarray | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """:func:`measure_reactivity`'s figures and the :func:`reactivity_series` they came from,
    from one decode of the video."""
    change = frame_changes(video_path, ffmpeg_path=ffmpeg_path)
    sections = getattr(analysis, "sections", []) or []
    result = reactivity_from_changes(
        change,
        fps=float(frames.fps),
        onset=np.asarray(frames.onset),
        beats=np.asarray(analysis.beats),
        section_starts=np.array([s.start for s in sections]),
        reference_beats=reference_beats,
    )
    result["video_frames"] = int(len(change))
    result["feature_frames"] = int(frames.n_frames)
    series = reactivity_series(change, fps=float(frames.fps), onset=np.asarray(frames.onset))
    return result, series
