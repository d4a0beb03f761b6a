"""Tempo, beats with confidence, downbeats and meter: :func:`track_beats_full` does it all.

1. Activation (``onsets.beat_activation``): percussive broad-band + low-band (kick) flux.
2. Tempo (``tempo.estimate_tempo``): time-averaged autocorrelation, harmonic comb, log-normal
   prior at 120 bpm: a starting point.
3. Beats (``dbn.viterbi_beats``): Viterbi over a (period, phase) lattice within ±25 % of the
   tempo, so a drifting drummer, a ramp or a step is followed beat by beat.
   Then the metrical level is chosen (:func:`choose_level`, ``tempo.metrical_levels``): in beat
   time (the activation resampled along the tracked beats, so rubato is as periodic as a grid)
   the levels ×3, ×2, ×3/2, ×1, ×⅔, ×½ and ×⅓ are scored by the harmonic comb, the prior and
   their metrical well-formedness (a beat has weaker onsets between its beats, not as strong
   ones and not none at all when its beats alternate strong/weak; a swung subdivision marks the
   beat above it). Where another level wins, the beats are tracked again there.
4. Phase: the tracked sequence or the one shifted by half a beat, whichever sits on more kick,
   broad-band onset and harmonic change (chords change on beats, not on the "and").
5. A constant grid (sub-frame period and phase) replaces the beats only when nearly every
   tracked beat lies within a few tens of ms of it: quantised and steady music gets the exact
   grid; a live band keeps its own beats.
6. Confidence per beat: the onset support of the beat against its neighbourhood (smoothed over
   a bar); beats are dropped in passages without any onset support (no invented grid there).
7. Downbeats and meter (``meter.find_meter``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from renderer.analysis.dbn import state_space, viterbi_beats
from renderer.analysis.meter import find_meter, harmonic_novelty
from renderer.analysis.onsets import BeatActivation, beat_activation, onset_envelope
from renderer.analysis.tempo import estimate_tempo, metrical_levels, null_comb_height

__all__ = ["BeatTrack", "MIN_TEMPO_CONFIDENCE", "onset_envelope", "track_beats_full"]

# A pulse needs a comb height this many times what the shuffled activation reaches
# (tempo.null_comb_height): white noise 1.3–1.5×, an orchestral recording 5×, a beat 7–40×.
PULSE_SIGNIFICANCE = 3.0
# … and this much comb height above that chance level (the reported tempo confidence).
MIN_TEMPO_CONFIDENCE = 0.03
TEMPO_SPAN = 1.25  # the tracker follows the tempo within ×/÷ this of the chosen level
LEVEL_ROUNDS = 2  # re-trackings at another metrical level, at most
# A constant grid is taken when it carries this share of the tracked beats' onset activation:
# free beats always fit the onsets a little better (they may bend to every early or late hit).
GRID_SHARE = 0.85


@dataclass(frozen=True)
class BeatTrack:
    """Beat analysis of one track; times in seconds."""

    tempo: float  # bpm (median inter-beat interval, or the fitted grid's)
    tempo_confidence: float  # [0, 1]: comb height above chance (tempo.null_comb_height)
    beats: np.ndarray  # [B]
    beat_confidence: np.ndarray  # [B] in [0, 1]
    downbeats: np.ndarray  # [D]
    beats_per_bar: int
    meter: str  # "4/4", "3/4", "6/8", "12/8", …, "" without beats
    constant_grid: bool  # the beats are a fitted constant grid


def _peak_at(x: np.ndarray, frames: np.ndarray, reach: int = 1) -> np.ndarray:
    """Max of ``x`` within ±``reach`` frames of each (fractional) frame position."""
    idx = np.round(frames).astype(int)
    out = np.zeros(len(idx))
    for d in range(-reach, reach + 1):
        j = np.clip(idx + d, 0, len(x) - 1)
        out = np.maximum(out, x[j])
    return out


UPSAMPLE = 2  # the lattice runs at twice the analysis frame rate: whole-frame periods 2 % apart


def _track_level(activation: np.ndarray, *, period: float) -> np.ndarray:
    """Beat frames (fractional, at the input rate) tracked within ×/÷ TEMPO_SPAN of ``period``."""
    n = len(activation)
    fine = np.interp(np.arange(n * UPSAMPLE) / UPSAMPLE, np.arange(n), activation)
    p = period * UPSAMPLE
    periods, _ = state_space(p / TEMPO_SPAN, p * TEMPO_SPAN)
    prior = np.exp(-0.5 * (np.log(periods / p) / 0.1) ** 2)  # start near the estimate
    frames = viterbi_beats(fine, min_period=p / TEMPO_SPAN, max_period=p * TEMPO_SPAN,
                           period_prior=prior)  # fmt: skip
    return frames.astype(float) / UPSAMPLE


def choose_level(activation: np.ndarray, *, frame_rate: float, bpm: float
                 ) -> tuple[np.ndarray, float]:  # fmt: skip
    """Beat frames ``[B]`` and tempo of the best metrical level around ``bpm`` (see module doc).

    The beats tracked at ``bpm`` are re-scored at the related levels in beat time
    (:func:`~renderer.analysis.tempo.metrical_levels`); where another level wins, the beats are
    tracked again at it and that level is checked the same way (at most :data:`LEVEL_ROUNDS`
    re-trackings, so a ⅔ reading can go to ×3/2 and then settle on the octave)."""
    frames = _track_level(activation, period=60.0 * frame_rate / bpm)
    seen = [bpm]
    for _ in range(LEVEL_ROUNDS):
        levels = metrical_levels(activation, frames, frame_rate=frame_rate)
        if not levels:
            break
        period, tempo, _ = max(levels, key=lambda level: level[2])
        if period == 1.0 or any(abs(np.log(tempo / t)) < 0.03 for t in seen):
            break
        seen.append(tempo)
        frames = _track_level(activation, period=60.0 * frame_rate / tempo)
    if len(frames) < 2:
        return frames, bpm
    return frames, 60.0 * frame_rate / float(np.median(np.diff(frames)))


PHASE_WINDOW = 16  # beats per phase decision: a slip to the "and" is repaired section by section
# What a change of phase between two windows costs, in units of the window score: one window's
# weak contrary evidence (a breakdown, a fill) cannot move the beats onto the "and" and back.
PHASE_SWITCH_COST = 0.5
BACKBEAT_WEIGHT = 2.0


def backbeat(x: np.ndarray, beat_frames: np.ndarray) -> float:
    """Strong/weak alternation of ``x`` from beat to beat: ``|mean(even) - mean(odd)|``.

    Snares and claps fall on every other beat (2 and 4), so on the true beats the high band
    alternates; half a beat off, the positions fall between those hits and see hats alike."""
    n = len(beat_frames) // 2 * 2
    if n < 4:
        return 0.0
    v = _peak_at(x, beat_frames[:n])
    return float(abs(v[0::2].mean() - v[1::2].mean()))


def phase_support(
    frames: np.ndarray, other: np.ndarray, cues: list[np.ndarray], high: np.ndarray
) -> float:
    """How much better ``frames`` ``[B]`` sit on the beat than ``other`` ``[B-1]``, the positions
    between them: the mean of each cue on the one against on the other, plus the high band's
    backbeat on the one against on the other."""
    score = sum(_peak_at(x, frames[:-1]).mean() - _peak_at(x, other).mean() for x in cues)
    alternation = backbeat(high, frames[:-1]) - backbeat(high, other)
    return float(score + BACKBEAT_WEIGHT * alternation)


def off_beat_offset(frames: np.ndarray, x: np.ndarray) -> float:
    """Where between beats ``frames`` the other phase lies, as a fraction of the beat in
    [0.3, 0.7]: the offset with the most activation ``x`` on it. Half a beat in straight time;
    in swung time the off-beat is late (a 60 % swing puts it at 0.6) and the beat itself, seen
    from a sequence on the swung "and", lies at 1 - 0.6 = 0.4."""
    ibi = np.diff(frames)
    offsets = np.linspace(0.3, 0.7, 21)
    support = np.array([_peak_at(x, frames[:-1] + d * ibi).mean() for d in offsets])
    best = np.flatnonzero(support >= support.max() * 0.99)  # ties (the peak spans ±1 frame):
    return float(offsets[best[np.argmin(np.abs(offsets[best] - 0.5))]])  # straight time wins


def _windows(count: int, window: int) -> list[tuple[int, int]]:
    """``(start, stop)`` beat-interval ranges of ``window`` beats; a short tail joins the last."""
    out = []
    for start in range(0, count - 1, window):
        stop = min(start + window, count - 1)
        if count - 1 - stop < window // 2:
            stop = count - 1
        out.append((start, stop))
        if stop == count - 1:
            break
    return out


def choose_phase(frames: np.ndarray, *, activation, chroma_novelty: np.ndarray,
                 window: int = PHASE_WINDOW) -> np.ndarray:  # fmt: skip
    """``frames`` with each stretch of ``window`` beats kept or moved onto the other phase, the
    off-beat between them (:func:`off_beat_offset`: half a beat, later in swung time).

    Each stretch scores both hypotheses by :func:`phase_support` (kick/low band, broad-band
    onsets and harmonic change on the beats, and the high band's backbeat; each cue scaled by
    its own 95th percentile). The choice over all stretches is a two-state Viterbi in which
    every change of phase costs :data:`PHASE_SWITCH_COST`: the beats move onto the other phase
    only where the evidence for it outweighs that, summed over the stretches that follow.
    """
    if len(frames) < 8:
        return frames
    cues = [x / (np.percentile(x, 95) + 1e-9)
            for x in (activation.low, activation.broad, chroma_novelty)]  # fmt: skip
    high = activation.upper / (np.percentile(activation.upper, 95) + 1e-9)
    mids = frames[:-1] + off_beat_offset(frames, activation.combined) * np.diff(frames)
    spans = _windows(len(frames), window)
    gain = np.array([phase_support(frames[a : b + 1], mids[a:b], cues, high) for a, b in spans])
    emit = np.stack([gain, -gain], axis=1)  # [W, 2]: keep, shift
    total, back = emit[0].copy(), np.zeros((len(spans), 2), dtype=int)
    for k in range(1, len(spans)):
        stay, switch = total, total[::-1] - PHASE_SWITCH_COST
        back[k] = np.where(stay >= switch, [0, 1], [1, 0])
        total = np.maximum(stay, switch) + emit[k]
    state = [int(np.argmax(total))]
    for k in range(len(spans) - 1, 0, -1):
        state.append(int(back[k, state[-1]]))
    state.reverse()
    out = [mids[a:b] if st else frames[a:b] for (a, b), st in zip(spans, state, strict=True)]
    if not state[-1]:
        out.append(frames[-1:])
    return np.concatenate(out)


def _grid_search(beats: np.ndarray, x: np.ndarray, *, frame_rate: float, search: float = 0.02
                 ) -> tuple[float, np.ndarray]:  # fmt: skip
    """The constant grid over the span of ``beats`` (period within ±``search`` of their median
    interval, phase within a quarter beat of theirs, sub-frame steps) with the most activation
    ``x`` on it: (score, grid). The phase stays the tracked one: on a syncopated groove the
    "and" may carry more activation than the beat, which :func:`choose_phase` has weighed."""
    frames = np.arange(len(x))
    period0 = float(np.median(np.diff(beats)))
    best = (-np.inf, beats)
    for period in period0 * (1.0 + np.linspace(-search, search, 41)):
        count = int(np.floor((beats[-1] - beats[0]) / period)) + 1
        grid = beats[0] + period * np.linspace(-0.25, 0.25, 41)[:, None]
        grid = grid + period * np.arange(count)[None, :]
        score = np.interp(grid * frame_rate, frames, x, left=0.0, right=0.0).mean(axis=1)
        k = int(np.argmax(score))
        if score[k] > best[0]:
            best = (float(score[k]), grid[k])
    return best


def fit_grid(beats: np.ndarray, *, activation: np.ndarray, frame_rate: float,
             tolerance: float = 0.035, share: float = 0.9) -> np.ndarray | None:  # fmt: skip
    """A constant grid for ``beats`` (s) where the music is constant, else None.

    Constant means: ``share`` of the tracked beats lie within ``tolerance`` of one line (counted
    in half beats, so a stretch tracked on the "and" still counts), or the best constant grid
    (:func:`_grid_search`) carries at least as much onset activation ``[T]`` per beat as the
    tracked beats do. A drummer who drifts fails both: the free beats follow the onsets better.
    """
    if len(beats) < 8:
        return None
    x = np.convolve(activation, np.exp(-0.5 * (np.arange(-3, 4) / 1.0) ** 2), mode="same")
    score, grid = _grid_search(beats, x, frame_rate=frame_rate)
    tracked = float(np.interp(beats * frame_rate, np.arange(len(x)), x).mean())
    if score >= GRID_SHARE * tracked:
        return grid
    steps = np.round(2.0 * np.diff(beats) / np.median(np.diff(beats)))  # beat to beat, no drift
    if np.any(steps < 1):
        return None
    half = np.r_[0.0, np.cumsum(steps)]
    half_period, origin = np.polyfit(half, beats, 1)
    residual = np.abs(beats - (origin + half_period * half))
    if np.mean(residual <= tolerance) < share:
        return None
    period = 2.0 * half_period
    if np.mean(half % 2 == 1) > 0.5:  # most beats on the odd half-beats: start the grid there
        origin += half_period
    idx = np.round((beats - origin) / period)
    k = np.arange(idx[0], idx[-1] + 1)
    offsets = period * np.linspace(-0.1, 0.1, 41)
    grid = origin + offsets[:, None] + period * k[None, :]
    score = np.interp(grid * frame_rate, np.arange(len(x)), x, left=0.0, right=0.0).sum(axis=1)
    return grid[int(np.argmax(score))]


def beat_confidence(activation: np.ndarray, beat_frames: np.ndarray, *, frame_rate: float
                    ) -> np.ndarray:  # fmt: skip
    """Per-beat confidence ``[B]`` in [0, 1]: onset support on the beat against the mean of the
    surrounding 2 s, mapped by ``1 - exp(-(ratio - 1))`` and smoothed over 4 beats (median)."""
    if len(beat_frames) == 0:
        return np.zeros(0)
    width = max(3, int(round(2.0 * frame_rate)) | 1)
    local = np.convolve(activation, np.ones(width) / width, mode="same")
    on = _peak_at(activation, beat_frames)
    ref = np.interp(beat_frames, np.arange(len(local)), local) + 1e-3
    conf = 1.0 - np.exp(-np.maximum(on / ref - 1.0, 0.0) / 2.0)
    if len(conf) >= 4:
        pad = np.pad(conf, 2, mode="edge")
        conf = np.median(np.lib.stride_tricks.sliding_window_view(pad, 5), axis=1)
    return np.clip(conf, 0.0, 1.0)


def _no_beats(tempo: float, confidence: float) -> BeatTrack:
    """No beat grid; the tempo estimate is still reported, within the documented 60–200 bpm."""
    empty = np.zeros(0)
    return BeatTrack(float(np.clip(tempo, 60.0, 200.0)), confidence, empty, empty, empty, 4, "",
                     False)  # fmt: skip


def track_beats_full(*, log_mel: np.ndarray | None = None, chroma: np.ndarray, frame_rate: float,
                     activation: BeatActivation | None = None) -> BeatTrack:  # fmt: skip
    """Beat analysis from ``log_mel`` ``[n_mels, T]`` (dB) and ``chroma`` ``[12, T]``; or from
    its ready ``activation`` (what the block-wise analysis passes: no spectrogram held)."""
    if activation is None:
        activation = beat_activation(log_mel, frame_rate=frame_rate)
    tempo, height = estimate_tempo(activation.combined, frame_rate=frame_rate)
    chance = null_comb_height(activation.combined, frame_rate=frame_rate) if height > 0 else 0.0
    confidence = max(height - chance, 0.0)  # periodicity beyond what chance gives
    if height < PULSE_SIGNIFICANCE * chance or confidence < MIN_TEMPO_CONFIDENCE:
        return _no_beats(tempo, confidence)  # no pulse (a drone, a tone, noise): no grid
    novelty = harmonic_novelty(chroma, frame_rate=frame_rate)
    frames, tempo = choose_level(activation.combined, frame_rate=frame_rate, bpm=tempo)
    if len(frames) < 4:
        return _no_beats(tempo, confidence)
    frames = choose_phase(frames, activation=activation, chroma_novelty=novelty)
    conf = beat_confidence(activation.combined, frames, frame_rate=frame_rate)
    keep = conf > 0.02  # no onset support at all: silence or a held chord, not a beat
    frames, conf = frames[keep], conf[keep]
    beats = frames / frame_rate
    grid = fit_grid(beats, activation=activation.combined, frame_rate=frame_rate)
    constant = grid is not None
    if constant:
        grid_frames = choose_phase(grid * frame_rate, activation=activation,
                                   chroma_novelty=novelty, window=len(grid))  # fmt: skip
        grid = grid_frames / frame_rate
        beats = grid
        conf = beat_confidence(activation.combined, grid * frame_rate, frame_rate=frame_rate)
        tempo = 60.0 / float(np.median(np.diff(grid)))
    elif len(beats) > 2:
        tempo = 60.0 / float(np.median(np.diff(beats)))
    downbeats, per_bar, meter = find_meter(
        beats, low=activation.low, chroma=chroma, activation=activation.combined,
        frame_rate=frame_rate,
    )  # fmt: skip
    return BeatTrack(float(tempo), float(confidence), beats, conf, downbeats, per_bar, meter,
                     constant)  # fmt: skip
