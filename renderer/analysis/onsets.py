"""Onset envelopes for beat tracking, from the log-mel spectrogram the analysis already has.

- :func:`onset_envelope`: multi-band spectral flux (each band group scaled by its own 99th
  percentile, so kick, snare and hat onsets count alike), slow drifts removed. The generic
  "something happened" curve that the sections, chords and reports use.
- :func:`beat_activation`: what the beat tracker listens to. Broad-band flux (the mean over
  all mel bands, as in Ellis 2007 / librosa) plus the low-band flux (below ≈ 200 Hz: kick drum
  and bass attacks) kept separately: drummers put kick and snare on the beat and hats, skanks and
  off-beat bass between, so weighting the low band keeps the tracker on the beat rather than on
  the "and".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOW_BANDS = 12  # of 96 mel bands up to 11 kHz: ≈ 0–200 Hz
N_MELS = 96  # the analysis mel bands (renderer.audio.spectral.ANALYSIS_MELS)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.convolve(x, kernel, mode="same")


def onset_envelope(log_mel: np.ndarray, *, n_bands: int = 4) -> np.ndarray:
    """Multi-band spectral flux ``[T]`` of a log-mel spectrogram ``[n_mels, T]``."""
    flux = np.maximum(0.0, np.diff(log_mel, axis=1, prepend=log_mel[:, :1]))
    bands = np.array_split(flux, n_bands, axis=0)
    env = np.zeros(log_mel.shape[1])
    for band in bands:
        b = band.mean(axis=0)
        scale = np.percentile(b, 99) + 1e-9
        env += b / scale
    env -= _moving_average(env, 17)  # remove slow loudness drifts
    return np.maximum(env, 0.0)


def _flux(log_mel: np.ndarray) -> np.ndarray:
    """Mean positive log-mel difference ``[T]`` with a 2-frame lag (onsets rise over ~30 ms)."""
    diff = np.zeros(log_mel.shape[1])
    if log_mel.shape[1] > 2:
        diff[2:] = np.maximum(0.0, log_mel[:, 2:] - log_mel[:, :-2]).mean(axis=0)
    return diff


def _normalise(x: np.ndarray, *, frame_rate: float) -> np.ndarray:
    """Subtract a 1 s running mean (adaptive threshold), rectify, scale to a robust [0, 1]."""
    width = max(3, int(round(frame_rate)) | 1)
    x = np.maximum(0.0, x - _moving_average(x, width))
    scale = np.percentile(x, 99.5) if x.size else 0.0
    return np.clip(x / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(x)


@dataclass(frozen=True)
class BeatActivation:
    """Onset curves ``[T]`` at the analysis frame rate, each in [0, 1]."""

    combined: np.ndarray  # what the tracker scores beats on
    broad: np.ndarray  # all bands
    low: np.ndarray  # kick / bass band
    high: np.ndarray | None = None  # the bands above the low band (snare, clap, hats)

    @property
    def upper(self) -> np.ndarray:
        """The high-band curve, or the broad band where none was given."""
        return self.broad if self.high is None else self.high


def percussive_log_mel(log_mel: np.ndarray, *, kernel: int = 17) -> np.ndarray:
    """The percussive part ``[n_mels, T]`` (dB) of a log-mel spectrogram, by median-filter HPSS
    (Fitzgerald 2010) on the power mel: sustained notes (bass, pads, chords) are horizontal and
    drop out; drum hits are vertical and stay."""
    from scipy.ndimage import median_filter

    power = 10.0 ** (log_mel / 10.0)
    harmonic = median_filter(power, size=(1, kernel), mode="nearest")
    percussive = median_filter(power, size=(kernel, 1), mode="nearest")
    mask = percussive**2 / (percussive**2 + harmonic**2 + 1e-20)
    floor = log_mel.max() - 80.0
    return np.maximum(10.0 * np.log10(power * mask + 1e-20), floor)


def activation_from_flux(broad_flux: np.ndarray, low_flux: np.ndarray, *, frame_rate: float,
                         low_weight: float = 0.6, n_mels: int = N_MELS) -> BeatActivation:  # fmt: skip
    """The beat activation from per-frame percussive flux ``[T]``: the mean over all ``n_mels``
    bands and over the :data:`LOW_BANDS` lowest (what ``renderer.audio.spectral`` accumulates
    block by block). The high band (snare, clap, hats) is the mean over the bands in between.

    ``combined = (broad + low_weight · low) / (1 + low_weight)``, lightly smoothed (a 3-frame
    triangle): a beat is where both an onset and a kick are likely.
    """
    broad_flux = np.asarray(broad_flux, dtype=float)
    low_flux = np.asarray(low_flux, dtype=float)
    high_flux = np.maximum(n_mels * broad_flux - LOW_BANDS * low_flux, 0.0) / (n_mels - LOW_BANDS)
    broad = _normalise(broad_flux, frame_rate=frame_rate)
    low = _normalise(low_flux, frame_rate=frame_rate)
    high = _normalise(high_flux, frame_rate=frame_rate)
    combined = (broad + low_weight * low) / (1.0 + low_weight)
    combined = np.convolve(combined, np.array([0.25, 0.5, 0.25]), mode="same")
    return BeatActivation(combined=combined, broad=broad, low=low, high=high)


def beat_activation(log_mel: np.ndarray, *, frame_rate: float, low_weight: float = 0.6,
                    percussive: bool = True) -> BeatActivation:  # fmt: skip
    """:func:`activation_from_flux` of a whole log-mel spectrogram ``[n_mels, T]`` (dB), by
    default of its percussive part (:func:`percussive_log_mel`)."""
    if percussive:
        log_mel = percussive_log_mel(log_mel)
    return activation_from_flux(_flux(log_mel), _flux(log_mel[:LOW_BANDS]),
                                frame_rate=frame_rate, low_weight=low_weight,
                                n_mels=log_mel.shape[0])  # fmt: skip
