"""Global tempo from an onset activation: autocorrelation, harmonic comb, log-normal prior.

The autocorrelation of the activation peaks at every metrical level at once (the sixteenth, the
eighth, the beat, the half bar, the bar), so the *beat* is chosen explicitly: each candidate
period ``P`` is scored by a harmonic comb ``Σ_k AC(kP) / k`` (k = 1..4: a beat level is one
whose multiples also recur, which a ⅔ or 3/2 level of a 4/4 groove does not), times a
log-normal prior on tempo centred at 120 bpm (σ 0.8 octave; the tempo range of beat
annotations in popular music, Moelants & McKinney 2004). The winner's neighbours at ×2 and ×½
are then compared on the same score, which is where octave errors are decided.

Whether there is a pulse at all is a significance test: the comb height against the height the
same activation reaches with its frames shuffled (:func:`null_comb_height`).

The global estimate is only a start. Once beats are tracked at it (they follow rubato and drift),
:func:`metrical_levels` re-scores the metrical levels related to it (×3, ×2, ×3/2, ×1, ×⅔, ×½,
×⅓) in *beat time*: the activation resampled at a fixed number of points per tracked beat, where
a rubato piece is as periodic as a quantised one and the comb is exact at every level. Each level
is weighed by the same prior and by two checks of metrical well-formedness on its own beats
(:func:`level_weight`): a beat level is subdivided by weaker onsets, so a level with onsets *as
strong as its beats* between them skips a pulse (the ⅔ and ½ levels of a backbeat), and a level
with *nothing* between its beats whose beats alternate strong/weak is the subdivision of a slower
beat (the eighth notes of a ballad). A swung subdivision (the off-beat late, at 0.55–0.72 of the
beat, with nothing half-way) marks the level above it as the beat: swing is eighth notes against
quarter-note beats.
"""

from __future__ import annotations

import numpy as np

PRIOR_BPM = 120.0
PRIOR_OCTAVES = 0.8


def autocorrelation(x: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation ``[T]`` (``ac[0] = 1``) of the mean-removed ``x`` ``[T]``."""
    x = np.asarray(x, dtype=float) - np.mean(x)
    n = len(x)
    if n < 2 or not np.any(x):
        return np.zeros(max(n, 1))
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    # unbiased: each lag averaged over the frames that overlap, so long lags are not damped
    ac = ac / (n - np.arange(n))
    return ac / (ac[0] + 1e-12)


def tempo_prior(bpm: np.ndarray, *, centre: float = PRIOR_BPM, octaves: float = PRIOR_OCTAVES
                ) -> np.ndarray:  # fmt: skip
    """Log-normal prior weight in (0, 1] for each tempo in ``bpm``."""
    return np.exp(-0.5 * (np.log2(np.asarray(bpm, dtype=float) / centre) / octaves) ** 2)


def local_autocorrelation(x: np.ndarray, *, window: int, hop: int) -> np.ndarray:
    """Mean of the autocorrelations ``[window]`` of overlapping windows of ``x`` ``[T]``: the
    time-averaged autocorrelation tempogram, which keeps its peaks sharp when the tempo drifts,
    ramps or steps (the global autocorrelation smears them at long lags)."""
    if len(x) <= window:
        return autocorrelation(x)
    starts = range(0, len(x) - window + 1, hop)
    acs = [autocorrelation(x[s : s + window]) for s in starts]
    return np.mean(acs, axis=0)


def tempo_salience(
    activation: np.ndarray, *, frame_rate: float, min_bpm: float = 50.0, max_bpm: float = 220.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(bpm [K], salience [K])`` on a log-spaced tempo grid: comb score × prior (≥ 0)."""
    ac = local_autocorrelation(activation, window=int(round(8.0 * frame_rate)),
                               hop=int(round(2.0 * frame_rate)))  # fmt: skip
    lags = np.arange(len(ac))
    bpm = np.geomspace(min_bpm, max_bpm, 480)
    period = 60.0 * frame_rate / bpm
    comb = np.zeros_like(bpm)
    weights = 0.0
    for k in (1, 2, 3, 4):
        lag = k * period
        valid = lag < len(ac) * 0.5  # lags beyond half the signal are too poorly estimated
        comb += np.where(valid, np.interp(lag, lags, ac), 0.0) / k
        weights += 1.0 / k
    comb = np.maximum(comb / weights, 0.0)
    return bpm, comb * tempo_prior(bpm)


def estimate_tempo(
    activation: np.ndarray, *, frame_rate: float, min_bpm: float = 50.0, max_bpm: float = 220.0
) -> tuple[float, float]:
    """``(bpm, confidence)`` of ``activation`` ``[T]``; ``(120.0, 0.0)`` when there is no pulse.

    Confidence in [0, 1] is the comb height at the chosen tempo (the mean autocorrelation at its
    multiples): a steady tone scores 0, white noise ≈ 0.05, music with a beat 0.2–0.7.
    """
    activation = np.asarray(activation, dtype=float)
    min_lag = 60.0 * frame_rate / max_bpm
    if len(activation) < 8 * min_lag or np.ptp(activation) == 0:
        return PRIOR_BPM, 0.0
    bpm, salience = tempo_salience(activation, frame_rate=frame_rate, min_bpm=min_bpm,
                                   max_bpm=max_bpm)  # fmt: skip
    best = int(np.argmax(salience))
    if salience[best] <= 0:
        return PRIOR_BPM, 0.0
    # parabolic refinement on the log-tempo grid
    if 0 < best < len(bpm) - 1:
        a, b, c = salience[best - 1 : best + 2]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
        tempo = float(np.exp(np.interp(best + shift, np.arange(len(bpm)), np.log(bpm))))
    else:
        tempo = float(bpm[best])
    confidence = float(np.clip(salience[best] / tempo_prior(np.array([tempo]))[0], 0.0, 1.0))
    return tempo, confidence


def null_comb_height(activation: np.ndarray, *, frame_rate: float, seeds: tuple[int, ...] = (0, 1)
                     ) -> float:  # fmt: skip
    """The comb height (:func:`estimate_tempo`'s confidence) that ``activation`` ``[T]`` reaches
    with its frames in random order (seeded permutations, the highest): the same values and
    density without any periodicity. Short or sparse curves reach higher by chance (10 s of white
    noise ≈ 0.06, a minute ≈ 0.03), so a pulse is judged against this, not a fixed level."""
    x = np.asarray(activation, dtype=float)
    return max(estimate_tempo(np.random.default_rng(seed).permutation(x), frame_rate=frame_rate)[1]
               for seed in seeds)  # fmt: skip


# ----------------------------------------------------------------------------- metrical levels
# Candidate beat periods, in tracked beats: ×3, ×2, ×3/2, ×1, ×⅔, ×½, ×⅓ of the tracked tempo.
LEVEL_PERIODS = (1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0)
LEVEL_BPM = (45.0, 230.0)  # the range a beat level may take
# level_weight: a level loses up to SKIP_PENALTY of its score as the strongest onset between its
# beats rises from SKIP_FROM × to as strong as its beats; with nothing between its beats (below
# TATUM_SUB of their strength) it keeps only its strong/weak evenness; a swung subdivision adds
# SWING_BONUS.
SKIP_FROM, SKIP_PENALTY = 0.6, 0.5
TATUM_SUB = 0.15
SWING_OFFSETS, SWING_BONUS = (0.55, 0.72), 0.25


def beat_time(x: np.ndarray, beat_frames: np.ndarray, bins: int) -> np.ndarray:
    """``x`` ``[T]`` resampled at ``bins`` points per tracked beat ``[(B-1)·bins + 1]``: point
    ``k·bins + j`` lies ``j/bins`` of the way from beat ``k`` to beat ``k+1`` (linear)."""
    k = np.arange((len(beat_frames) - 1) * bins + 1) / bins
    t = np.interp(k, np.arange(len(beat_frames)), beat_frames)
    return np.interp(t, np.arange(len(x)), x)


def harmonic_comb(ac: np.ndarray, lag: float) -> float:
    """``Σ_k AC(k·lag)/k / Σ_k 1/k`` for k = 1..4 (lags beyond half the curve count as 0)."""
    lags = np.arange(len(ac))
    total = sum(float(np.interp(k * lag, lags, ac)) / k for k in (1, 2, 3, 4)
                if k * lag < len(ac) * 0.5)  # fmt: skip
    return total / sum(1.0 / k for k in (1, 2, 3, 4))


def _window_profiles(w: np.ndarray, period: int, window: int = 16
                     ) -> tuple[np.ndarray, list[np.ndarray]]:  # fmt: skip
    """The mean beat-to-beat profile ``[period]`` of ``w``, starting at the beat, and the beat
    values of each stretch: per stretch of ``window`` beats, each at its own strongest phase (a
    tracked sequence that slipped by a frame or a beat somewhere keeps one profile)."""
    beats_per = []
    profiles = []
    count = len(w) // period
    starts = range(0, max(1, count - window // 2), window)
    for start in starts:
        stop = min(count, start + window)
        if count - stop < window // 2:
            stop = count
        block = w[start * period : stop * period].reshape(-1, period)
        fold = block.mean(axis=0)
        phase = int(np.argmax(fold))
        profiles.append(np.roll(fold, -phase) * len(block))
        beats_per.append(w[start * period + phase : stop * period : period])
        if stop == count:
            break
    return np.sum(profiles, axis=0) / max(1, count), beats_per


def level_weight(w: np.ndarray, period: int) -> float:
    """Metrical well-formedness in (0, 1.25] of a beat every ``period`` points of the beat-time
    curve ``w``, at its strongest phase (see the module doc)."""
    if len(w) < 2 * period:
        return 1.0
    profile, stretches = _window_profiles(w, period)
    on = profile[0] + 1e-9
    between = np.arange(int(np.ceil(0.3 * period)), int(np.floor(0.7 * period)) + 1)
    strongest = int(between[np.argmax(profile[between])])
    sub = profile[strongest] / on  # the strongest onset between the beats, against the beats
    half = profile[period // 2] / on if period % 2 == 0 else sub
    evenness = []  # weak/strong of alternate beats, per 8 beats
    for beats in stretches:
        for start in range(0, len(beats) - 7, 8):
            a, b = beats[start : start + 8 : 2].mean(), beats[start + 1 : start + 8 : 2].mean()
            evenness.append(min(a, b) / (max(a, b) + 1e-9))
    even = float(np.median(evenness)) if evenness else 1.0
    skips = 1.0 - SKIP_PENALTY * float(np.clip((sub - SKIP_FROM) / (1.0 - SKIP_FROM), 0.0, 1.0))
    tatum = even + (1.0 - even) * float(np.clip(sub / TATUM_SUB, 0.0, 1.0))
    offset = strongest / period
    swung = (SWING_OFFSETS[0] <= offset <= SWING_OFFSETS[1] and half < 0.5 * sub
             and sub <= 0.7)  # fmt: skip
    return skips * tatum * (1.0 + SWING_BONUS if swung else 1.0)


def metrical_levels(activation: np.ndarray, beat_frames: np.ndarray, *, frame_rate: float
                    ) -> list[tuple[float, float, float]]:  # fmt: skip
    """``[(beat period in tracked beats, tempo bpm, score)]`` of every level of
    :data:`LEVEL_PERIODS` within :data:`LEVEL_BPM`, for beats ``beat_frames`` tracked on
    ``activation`` ``[T]``: comb × prior × :func:`level_weight`, all in beat time."""
    if len(beat_frames) < 8:
        return []
    period = float(np.median(np.diff(beat_frames)))
    local = 60.0 * frame_rate / period
    bins = 12 * max(1, int(round(period / 12.0)))  # ≈ one point per frame, every level whole
    w = beat_time(activation, beat_frames, bins)
    ac = autocorrelation(w)
    out = []
    for p in LEVEL_PERIODS:
        tempo = local / p
        if not LEVEL_BPM[0] <= tempo <= LEVEL_BPM[1]:
            continue
        lag = int(round(p * bins))
        comb = max(harmonic_comb(ac, lag), 0.0)
        score = comb * float(tempo_prior(np.array([tempo]))[0]) * level_weight(w, lag)
        out.append((p, tempo, score))
    return out
