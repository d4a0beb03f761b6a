"""Tempo, beat grid and downbeats from an onset-strength envelope.

1. Onset envelope: multi-band spectral flux of the log-mel spectrogram (each band scaled by its
   own 99th percentile, so kick, snare and hat onsets count alike), slow drifts removed.
2. Tempo: autocorrelation of the envelope scored against a comb of 2×/3×/4× multiples with a
   log-normal prior centred at 120 bpm (σ 0.7 octave) — the comb and the prior settle octave
   errors — refined to sub-lag precision on the 8×/4×/2× multiple of the period.
3. Beats: dynamic programming (Ellis 2007) with that period and a tight transition cost; then, if
   most beats follow one constant grid, the grid (period and phase searched at sub-frame
   resolution, phase kept near the tracker's) replaces them: it removes the frame-quantisation
   jitter (hop ≈ 23 ms) and repairs half-beat slips on off-beat-heavy electronic music.
4. Downbeats: the phase (of 4) with the largest beat-to-beat change of whole-beat chroma (chords
   change on the one), bass energy breaking ties.
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
    env: np.ndarray, *, frame_rate: float, prior_bpm: float = 120.0, min_bpm=60.0, max_bpm=200.0
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

    min_lag = int(np.ceil(60.0 * frame_rate / max_bpm))  # bpm ≤ max_bpm
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
    if not np.isfinite(period) or not min_lag <= period <= max_lag:
        # The refinement wandered off the searched range (flat or peakless autocorrelation, as
        # for a steady tone): keep the integer lag, which is in range by construction.
        period = float(best)
    return float(60.0 * frame_rate / period), confidence


# Below this normalised autocorrelation peak the envelope has no periodicity worth a grid (a steady
# tone scores 0.0, white noise 0.06; music with a beat 0.4–0.7): no beats are invented.
MIN_TEMPO_CONFIDENCE = 0.15


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


def fit_grid(
    beats: np.ndarray,
    *,
    env: np.ndarray,
    frame_rate: float,
    bpm: float,
    search: float = 0.02,
    tolerance: float = 0.06,
    min_share: float = 0.5,
) -> tuple[np.ndarray, float] | None:
    """The constant-tempo grid that best explains ``env``, if the tracked ``beats`` follow it.

    Scans periods within ``±search`` of ``60/bpm`` (sub-frame steps) and every phase, scoring the
    onset envelope ``env`` ``[T]`` (linearly interpolated, so no frame quantisation) summed at the
    grid times. Returns ``(grid_times [B], bpm)`` spanning the tracked beats when at least
    ``min_share`` of them lie within ``tolerance`` seconds of it; otherwise None (tempo varies).
    The share is not higher because the DP tracker on electronic music with strong off-beats
    (hats, off-beat bass) can slip half a beat for a section; the grid repairs that.
    """
    if len(beats) < 8:
        return None
    x = np.convolve(env, np.exp(-0.5 * (np.arange(-3, 4) / 1.0) ** 2), mode="same")
    frames = np.arange(len(x))
    period0 = 60.0 / bpm
    span_start, span_end = float(beats[0]), float(beats[-1])
    best = (-np.inf, period0, span_start)
    for period in period0 * (1.0 + np.linspace(-search, search, 81)):
        # Keep the tracker's phase (on-beat vs off-beat was its decision); refine within ±15 %.
        angle = np.angle(np.mean(np.exp(2j * np.pi * beats / period)))
        centre = angle / (2 * np.pi) * period
        phases = centre + period * np.linspace(-0.15, 0.15, 31)
        k = np.arange(np.floor((span_start - centre) / period) - 1,
                      np.ceil((span_end - centre) / period) + 2)  # fmt: skip
        grid = phases[:, None] + period * k[None, :]
        score = np.interp(grid * frame_rate, frames, x, left=0.0, right=0.0).mean(axis=1)
        i = int(np.argmax(score))
        if score[i] > best[0]:
            best = (float(score[i]), float(period), float(phases[i]))
    _, period, origin = best
    k = np.round((beats - origin) / period)
    near = np.abs(beats - (origin + k * period)) <= tolerance
    if near.mean() < min_share:
        return None
    first = origin + period * np.ceil((span_start - tolerance - origin) / period)
    grid = np.arange(first, span_end + tolerance, period)
    return grid, 60.0 / period


def harmonic_change_at(times: np.ndarray, *, chroma: np.ndarray, frame_rate: float, width: float
                       ) -> np.ndarray:  # fmt: skip
    """Chroma change ``[B]`` across each time: distance between the mean normalised chroma of the
    ``width`` seconds before and after it (chroma ``[12, T]`` at ``frame_rate``)."""
    w = max(1, int(round(width * frame_rate)))
    norm = chroma / (np.linalg.norm(chroma, axis=0, keepdims=True) + 1e-9)
    csum = np.concatenate([np.zeros((12, 1)), np.cumsum(norm, axis=1)], axis=1)
    f = np.clip(np.round(times * frame_rate).astype(int), w, chroma.shape[1] - w)
    before = (csum[:, f] - csum[:, f - w]) / w
    after = (csum[:, f + w] - csum[:, f]) / w
    return np.linalg.norm(after - before, axis=0)


def choose_phase(grid: np.ndarray, *, chroma: np.ndarray, frame_rate: float) -> np.ndarray:
    """``grid`` or the grid shifted by half a beat, whichever sits on the harmonic changes.

    Off-beat hats and off-beat bass can make the half-beat grid as strong in onset energy as the
    beat itself (typical of house music); chords, though, change on beats (the one), not between.
    """
    if len(grid) < 8 or chroma.shape[1] < 8:
        return grid
    period = float(np.median(np.diff(grid)))
    shifted = grid + period / 2
    shifted = shifted[shifted < chroma.shape[1] / frame_rate]
    on = harmonic_change_at(grid, chroma=chroma, frame_rate=frame_rate, width=period / 2)
    off = harmonic_change_at(shifted, chroma=chroma, frame_rate=frame_rate, width=period / 2)
    # Chord changes are sparse (one per bar or two): compare the strongest quarter of each.
    top = max(2, len(grid) // 4)
    on_score, off_score = np.sort(on)[-top:].mean(), np.sort(off)[-top:].mean()
    if off_score > 1.08 * on_score:
        first = shifted[0] - period if shifted[0] - period >= grid[0] - 1e-9 else shifted[0]
        return np.arange(len(shifted) + (first < shifted[0])) * period + first
    return grid


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
    # Chroma averaged over each whole beat (not around the onset, where transients smear it):
    # chords change on the one, so the beat-to-beat change peaks at the downbeat phase.
    ends = np.r_[
        frames[1:], min(chroma.shape[1], frames[-1] + max(1, int(np.median(np.diff(frames)))))
    ]
    beat_chroma = np.stack(
        [chroma[:, a : max(b, a + 1)].mean(axis=1) for a, b in zip(frames, ends, strict=True)],
        axis=1,
    )
    beat_chroma /= np.linalg.norm(beat_chroma, axis=0, keepdims=True) + 1e-9
    change = np.r_[0.0, np.linalg.norm(np.diff(beat_chroma, axis=1), axis=0)]
    # Harmonic change decides; bass (kicks on 1 and 3) only breaks ties between phases.
    score = change / (change.mean() + 1e-9) + 0.25 * bass / (bass.mean() + 1e-9)
    phase_scores = [score[p::meter].mean() for p in range(meter)]
    phase = int(np.argmax(phase_scores))
    return beats[phase::meter].copy()
