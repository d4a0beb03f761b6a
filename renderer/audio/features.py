"""Per-track feature timelines, cached by content hash (decoding is :mod:`renderer.audio.decode`).

``extract_features`` computes, at a fixed hop of the analysis rate, the features that drive the
visuals: RMS, spectral centroid, flatness, MFCC-lite, onset strength, chroma and the energies of the
harmonic and percussive parts (HPSS). Each is robustly normalised per track to ``[0, 1]`` (5th–95th
percentile scaling, clipped) so presets behave the same on quiet and loud masters.
``to_video_frames`` resamples the timeline to exactly ``round(duration × fps)`` video frames, frame
``i`` sampled at time ``i / fps``.

The STFT is computed in blocks by :mod:`renderer.audio.spectral` (shared with the analysis), never
for the whole track at once; HPSS runs on the 64-band mel magnitude (not the 1025-bin STFT: the
median filters dominate the cost and scale with the bin count), so no inverse transforms are needed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from renderer.audio.decode import file_sha256
from renderer.audio.spectral import N_FFT, Timeline, file_timeline, signal_timeline
from renderer.errors import AudioError

FEATURE_VERSION = 6
FEATURE_NAMES = ("rms", "centroid", "flatness", "onset", "harmonic", "percussive", "mfcc", "chroma")


# -------------------------------------------------------------------------------------- features
@dataclass(frozen=True)
class Features:
    """Per-track feature timeline at ``sample_rate / hop_length`` frames per second.

    1-D features are ``[T]``; ``mfcc`` is ``[T, n_mfcc]``; ``chroma`` is ``[T, 12]`` (C..B).
    All values are normalised to ``[0, 1]`` per track.
    """

    source: str
    sha256: str
    sample_rate: int
    hop_length: int
    duration: float
    rms: np.ndarray
    centroid: np.ndarray
    flatness: np.ndarray
    onset: np.ndarray
    harmonic: np.ndarray
    percussive: np.ndarray
    mfcc: np.ndarray
    chroma: np.ndarray
    stems: tuple[str, ...] = ()  # parts whose signals came from stems (renderer/audio/stems.py)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def n_frames(self) -> int:
        return int(self.rms.shape[0])


@dataclass(frozen=True)
class FrameFeatures:
    """Features resampled to video frames: ``[N]`` / ``[N, n_mfcc]`` / ``[N, 12]``, frame i at i/fps."""

    fps: float
    n_frames: int
    duration: float
    rms: np.ndarray
    centroid: np.ndarray
    flatness: np.ndarray
    onset: np.ndarray
    harmonic: np.ndarray
    percussive: np.ndarray
    mfcc: np.ndarray
    chroma: np.ndarray
    stems: tuple[str, ...] = ()  # as in Features


def robust_normalise(x: np.ndarray, *, low: float = 5.0, high: float = 95.0) -> np.ndarray:
    """Scale so the ``low``/``high`` percentiles map to 0/1, clipped; constant input → zeros."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi = np.percentile(x, [low, high], axis=0)
    span = np.where(hi - lo > 1e-9, hi - lo, np.inf)
    return np.clip((x - lo) / span, 0.0, 1.0).astype(np.float32)


def loudness_gate(rms: np.ndarray, *, floor_db: float = -60.0, knee_db: float = 20.0) -> np.ndarray:
    """Weights ``[T]`` in [0, 1]: 0 at ``floor_db`` below the track's peak RMS, 1 from
    ``floor_db + knee_db`` up. Chroma is max-normalised per frame, so without this a reverb tail
    or dither noise shows as loud random pitch classes."""
    peak = float(np.max(rms)) if rms.size else 0.0
    if peak < 1e-6:
        return np.zeros_like(rms, dtype=np.float64)
    level = 20.0 * np.log10(np.maximum(rms, 1e-12) / peak)
    return np.clip((level - floor_db) / knee_db, 0.0, 1.0)


def features_from_timeline(timeline: Timeline) -> dict[str, np.ndarray]:
    """The normalised features (see :class:`Features`) from a spectral :class:`Timeline`."""
    rms = np.sqrt(timeline.power * 2.0 / N_FFT)
    chroma = timeline.chroma * loudness_gate(rms)[None, :]
    return {
        "rms": robust_normalise(rms),
        "centroid": robust_normalise(timeline.centroid),
        "flatness": robust_normalise(timeline.flatness),
        "onset": robust_normalise(timeline.onset),
        "harmonic": robust_normalise(timeline.harmonic),
        "percussive": robust_normalise(timeline.percussive),
        "mfcc": robust_normalise(timeline.mfcc.T),
        "chroma": np.clip(chroma.T, 0.0, 1.0).astype(np.float32),
    }


def compute_features(
    y: np.ndarray, *, sr: int, hop_length: int = 512, n_fft: int = N_FFT, n_mfcc: int = 8
) -> dict[str, np.ndarray]:
    """Raw-then-normalised features of mono ``y`` ``[N]`` at ``sr``; see :class:`Features`.

    The same block-wise computation as for a file (:func:`extract_features`)."""
    if n_fft != N_FFT:
        raise ValueError(f"n_fft must be {N_FFT} (got {n_fft})")
    timeline = signal_timeline(y, sr=sr, hop_length=hop_length, n_mfcc=n_mfcc)
    return features_from_timeline(timeline)


def _cache_path(cache_dir: Path, sha: str, params: dict) -> Path:
    key = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir / f"{sha[:24]}-{key}.npz"


def _load_cached(path: Path, *, sha: str, params: dict) -> dict | None:
    """Return cached arrays if the entry is complete, fresh and finite; otherwise None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = json.loads(str(data["__params__"]))
            if stored != {**params, "sha256": sha}:
                return None
            arrays = {name: data[name] for name in FEATURE_NAMES}
            duration = float(data["__duration__"])
    except (OSError, KeyError, ValueError, EOFError):
        return None
    if not all(np.all(np.isfinite(a)) for a in arrays.values()):
        return None
    return {**arrays, "duration": duration}


def _save_atomic(path: Path, *, arrays: dict, params: dict, sha: str, duration: float) -> None:
    from renderer.files import atomic_path

    # readers see the old entry or the complete new one, never half
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            __params__=np.array(json.dumps({**params, "sha256": sha}, sort_keys=True)),
            __duration__=np.array(duration),
            **arrays,
        )


def extract_features(
    path: str | Path,
    *,
    cache_dir: Path | None = Path("cache/features"),
    sr: int = 22050,
    hop_length: int = 512,
    n_mfcc: int = 8,
) -> Features:
    """Features of the audio file at ``path`` (mono mix at ``sr``), cached as ``.npz``.

    The cache key is the file's sha256 plus every parameter and :data:`FEATURE_VERSION`; a
    corrupt, stale or non-finite entry is recomputed and overwritten.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    sha = file_sha256(path)
    params = {"sr": sr, "hop_length": hop_length, "n_mfcc": n_mfcc, "version": FEATURE_VERSION}
    cached = None
    if cache_dir is not None:
        entry = _cache_path(Path(cache_dir), sha, params)
        cached = _load_cached(entry, sha=sha, params=params) if entry.exists() else None
    if cached is None:
        timeline = file_timeline(path, sr=sr, hop_length=hop_length, n_mfcc=n_mfcc)
        arrays = features_from_timeline(timeline)
        duration = timeline.duration
        if cache_dir is not None:
            _save_atomic(entry, arrays=arrays, params=params, sha=sha, duration=duration)
        cached = {**arrays, "duration": duration}
    return Features(
        source=str(path),
        sha256=sha,
        sample_rate=sr,
        hop_length=hop_length,
        **{f.name: cached[f.name] for f in fields(Features) if f.name in cached},
    )


def n_video_frames(duration: float, fps: float) -> int:
    """Number of video frames for a track: ``round(duration × fps)`` (at least 1)."""
    return max(1, int(round(duration * fps)))


# Onset strength (log-mel flux, n_fft 2048, hop 512 at 22.05 kHz) peaks after the hit: two hops
# on the album's drums (mean onset at beat + k hops: 0.11, 0.44, 0.75, 0.29 for k = 0..3 on all three
# tracks, ground-truth beat grid), one hop on an ideal click; 1.5 hops (35 ms) puts both on the
# beat's video frame.
ONSET_LATENCY_S = 1.5 * 512 / 22050


def to_video_frames(features: Features, *, fps: float) -> FrameFeatures:
    """Resample every feature to ``round(duration × fps)`` frames; frame i is at time i/fps.

    Feature frame j (librosa ``center=True``) describes time ``j × hop / sr``; values are linearly
    interpolated at the video frame times. Onsets use the max over each video frame's span instead,
    so a sharp hit between two video frames is not halved away, and are moved ``ONSET_LATENCY_S``
    earlier: the log-mel flux peaks one to two hops after the hit (measured on the album's known
    beat grid), which put every onset pulse one video frame late at 30 fps.
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0 (got {fps})")
    n = n_video_frames(features.duration, fps)
    t_video = np.arange(n) / fps
    t_feat = np.arange(features.n_frames) / features.frame_rate

    def interp(a: np.ndarray) -> np.ndarray:
        if a.ndim == 1:
            return np.interp(t_video, t_feat, a).astype(np.float32)
        return np.stack([np.interp(t_video, t_feat, col) for col in a.T], axis=1).astype(np.float32)

    # Peak-hold onsets over [t - half frame, t + half frame), at the time of the hit.
    t_onset = t_feat - ONSET_LATENCY_S
    keep = t_onset >= -0.5 / fps
    idx = np.clip(np.round(t_onset[keep] * fps).astype(int), 0, n - 1)
    onset = np.zeros(n, dtype=np.float32)
    np.maximum.at(onset, idx, features.onset[keep])
    onset = np.maximum(onset, np.interp(t_video, t_onset, features.onset).astype(np.float32))
    return FrameFeatures(
        fps=float(fps),
        n_frames=n,
        duration=features.duration,
        rms=interp(features.rms),
        centroid=interp(features.centroid),
        flatness=interp(features.flatness),
        onset=onset,
        harmonic=interp(features.harmonic),
        percussive=interp(features.percussive),
        mfcc=interp(features.mfcc),
        chroma=interp(features.chroma),
        stems=features.stems,
    )
