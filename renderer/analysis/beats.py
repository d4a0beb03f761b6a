"""Tempo, beat grid and downbeats from an onset-strength envelope.

1. Onset envelope: multi-band spectral flux of the log-mel spectrogram (bands summed after a median
   over frequency inside each band, which keeps kick, snare and hat onsets separate but balanced).
2. Tempo: autocorrelation of the envelope scored against a comb of 2×/3×/4× multiples with a
   log-normal prior centred at 115 bpm — the comb resolves octave errors, the prior picks among
   equally periodic candidates — refined to sub-lag precision by parabolic interpolation.
3. Beats: dynamic programming (Ellis 2007) with the refined period and a tight transition cost,
   then a least-squares fit of a constant grid when the track's beats are near-isochronous, which
   removes the jitter of the frame quantisation (hop ≈ 23 ms) for electronic music.
4. Downbeats: the phase (of 4) whose beats carry the most low-frequency onset energy plus
   harmonic change — bars start on kicks and chord changes.
"""

from __future__ import annotations

import numpy as np


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


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.convolve(x, kernel, mode="same")


def estimate_tempo(
    env: np.ndarray, *, frame_rate: float, prior_bpm: float = 115.0, min_bpm=60.0, max_bpm=200.0
) -> tuple[float, float]:
    """Return ``(bpm, confidence)``; confidence in [0, 1] is the normalised comb peak height."""
    # Smooth before autocorrelating: a pulse train whose period is not a whole number of frames
    # otherwise splits its peak over two lags and loses to the (integer-aligned) double period.
    x = np.convolve(env, np.exp(-0.5 * (np.arange(-4, 5) / 1.5) ** 2), mode="same")
    x = x - x.mean()
    n = len(x)
    if n < 8 or not np.any(x):
        return 120.0, 0.0
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac /= ac[0] + 1e-12
    np.arange(n)
    min_lag = int(np.floor(60.0 * frame_rate / max_bpm))
    max_lag = min(int(np.ceil(60.0 * frame_rate / min_bpm)), n // 4 - 1)
    if max_lag <= min_lag + 2:
        return 120.0, 0.0
    score = np.full(n, -np.inf)
    for lag in range(min_lag, max_lag + 1):
        comb = ac[lag]
        for mult, weight in ((2, 0.5), (3, 0.25), (4, 0.25)):
            if lag * mult < n:
                comb += weight * ac[lag * mult]
        bpm = 60.0 * frame_rate / lag
        prior = np.exp(-0.5 * (np.log2(bpm / prior_bpm) / 0.7) ** 2)
        score[lag] = comb * prior
    best = int(np.argmax(score))
    # Parabolic refinement of the autocorrelation peak around the best lag.
    a, b, c = ac[best - 1], ac[best], ac[best + 1]
    denom = a - 2 * b + c
    offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
    # Longer lags give finer precision: refine on the multiple 4× the period when available.
    period = best + np.clip(offset, -0.5, 0.5)
    for mult in (8, 4, 2):
        target = int(round(period * mult))
        if target + 1 < n // 2:
            window = ac[target - mult : target + mult + 1]
            peak = target - mult + int(np.argmax(window))
            a, b, c = ac[peak - 1], ac[peak], ac[peak + 1]
            denom = a - 2 * b + c
            fine = peak + (0.5 * (a - c) / denom if denom < 0 else 0.0)
            period = fine / mult
            break
    confidence = float(np.clip(ac[best], 0.0, 1.0))
    return float(60.0 * frame_rate / period), confidence


def track_beats(
    env: np.ndarray, *, frame_rate: float, bpm: float, tightness: float = 300.0
) -> np.ndarray:
    """Beat times (seconds) by dynamic programming over ``env`` with period ``60/bpm``."""
    n = len(env)
    period = 60.0 * frame_rate / bpm
    if n < 2 * period or not np.any(env > 0):
        return np.zeros(0)
    norm = env / (env.std() + 1e-9)
    local = np.convolve(
        norm, np.exp(-0.5 * (np.arange(-period, period + 1) * 32 / period) ** 2), "same"
    )
    window = np.arange(-int(round(2 * period)), -int(round(period / 2)) + 1)
    txcost = -tightness * np.abs(np.log(-window / period)) ** 2
    cum = local.copy()
    back = np.full(n, -1, dtype=int)
    for i in range(n):
        prev = i + window
        valid = prev >= 0
        if not np.any(valid):
            continue
        cand = cum[prev[valid]] + txcost[valid]
        j = int(np.argmax(cand))
        if cand[j] > 0:
            cum[i] = local[i] + cand[j]
            back[i] = prev[valid][j]
    # Start from the best-scoring frame in the last period, follow back-pointers.
    tail = np.arange(max(0, n - int(round(period))), n)
    peaks = tail[local[tail] > 0.5 * local[tail].max()] if local[tail].max() > 0 else tail
    i = int(peaks[np.argmax(cum[peaks])])
    beats = []
    while i >= 0:
        beats.append(i)
        i = back[i]
    beats = np.array(beats[::-1], dtype=float)
    # Trim weak beats at the edges (silence before/after the music).
    strength = local[beats.astype(int)]
    keep = (
        strength > 0.1 * np.median(strength[strength > 0]) if np.any(strength > 0) else strength > 0
    )
    if np.any(keep):
        first, last = np.argmax(keep), len(keep) - np.argmax(keep[::-1])
        beats = beats[first:last]
    return _regularise(beats / frame_rate, period / frame_rate)


def _regularise(beats: np.ndarray, period: float) -> np.ndarray:
    """Replace near-isochronous beat sequences by their least-squares constant grid."""
    if len(beats) < 8:
        return beats
    idx = np.round((beats - beats[0]) / period)
    slope, intercept = np.polyfit(idx, beats, 1)
    grid = intercept + slope * idx
    if np.median(np.abs(beats - grid)) < 0.03 and np.all(np.diff(idx) >= 1):
        full = intercept + slope * np.arange(idx[0], idx[-1] + 1)
        return full
    return beats


def find_downbeats(
    beats: np.ndarray,
    *,
    low_onset: np.ndarray,
    chroma: np.ndarray,
    frame_rate: float,
    meter: int = 4,
) -> np.ndarray:
    """Downbeat times: the beat phase with the strongest bass energy + harmonic change.

    ``low_onset`` ``[T]`` is a (linear) low-frequency energy or onset curve at ``frame_rate``.
    """
    if len(beats) < meter:
        return beats[:1].copy()
    frames = np.clip(np.round(beats * frame_rate).astype(int), 0, len(low_onset) - 1)
    bass = np.array([low_onset[max(0, f - 2) : f + 3].max() for f in frames])
    beat_chroma = np.stack([chroma[:, max(0, f - 2) : f + 3].mean(axis=1) for f in frames], axis=1)
    change = np.r_[0.0, np.linalg.norm(np.diff(beat_chroma, axis=1), axis=0)]
    score = bass / (bass.max() + 1e-9) + 0.5 * change / (change.max() + 1e-9)
    phase_scores = [score[p::meter].mean() for p in range(meter)]
    phase = int(np.argmax(phase_scores))
    return beats[phase::meter].copy()
