"""Beat tracking as Viterbi decoding over a (beat period, phase) state space.

The state space is Krebs, Böck & Widmer's (ISMIR 2015) efficient bar pointer at the beat level:
for every whole-frame beat period ``τ`` in the allowed range there are ``τ`` phase states
``0 … τ-1``; time advances the phase by one frame, and only at the end of a beat (phase ``τ-1``)
may the period change, with probability ∝ ``exp(-λ |τ'/τ - 1|)``. Phase 0 is the beat. The
observation is the onset activation ``a`` in (0, 1): a beat state scores ``log a``, every other
state ``log((1 - a)/(ν - 1))`` (ν = 16: beats are rare among frames). The path through this
lattice is a beat sequence with a *locally varying* tempo: it follows a drummer who drifts, a
ramp, a step, and breaks a constant grid only where the evidence does.

Decoding keeps only the beat states (a path between beats is fixed by its period) and runs in
blocks of the shortest period, every frame of a block at once: O(T·I²) work in T/τ_min numpy steps
(I ≈ 20–50 periods), so a 5-minute track decodes in 0.1–0.2 s with no compiled extension. The
path is the same as that of the frame-by-frame Viterbi over all (period, phase) states.
"""

from __future__ import annotations

import numpy as np


def state_space(min_period: float, max_period: float) -> tuple[np.ndarray, np.ndarray]:
    """``(periods [I], first [I])``: whole-frame beat periods and each one's first state index."""
    lo = max(2, int(np.floor(min_period)))
    hi = max(lo, int(np.ceil(max_period)))
    periods = np.arange(lo, hi + 1)
    first = np.r_[0, np.cumsum(periods)[:-1]]
    return periods, first


def viterbi_beats(
    activation: np.ndarray,
    *,
    min_period: float,
    max_period: float,
    transition_lambda: float = 100.0,
    observation_lambda: float = 16.0,
    period_prior: np.ndarray | None = None,
) -> np.ndarray:
    """Beat frames ``[B]`` (int) of the most likely path through ``activation`` ``[T]``.

    ``min_period``/``max_period`` bound the beat period in frames; ``period_prior`` ``[I]``
    (optional, one weight per whole-frame period of :func:`state_space`) weights the start state.
    """
    a = np.clip(np.asarray(activation, dtype=float), 1e-4, 1 - 1e-4)
    n = len(a)
    periods, first = state_space(min_period, max_period)
    n_periods = len(periods)
    if n < 2 * periods[0]:
        return np.zeros(0, dtype=int)
    # period transitions at beat ends, normalised per source period
    ratio = periods[None, :] / periods[:, None]
    log_trans = -transition_lambda * np.abs(ratio - 1.0)
    log_trans -= np.log(np.exp(log_trans).sum(axis=1, keepdims=True))
    log_beat = np.log(a)
    log_other = np.log((1.0 - a) / (observation_lambda - 1.0))
    gain = log_beat - log_other  # what a beat state scores above every other state
    # Scores are kept less the Σ log_other that every path pays alike, and only at beats:
    # score[t, i] is the best path with a beat of period τ_i at frame t. Its previous beat, of
    # period τ_j, lay τ_j frames earlier, so score[t, i] = max_j score[t - τ_j, j] + trans[j, i]
    # + gain[t]: every frame of a block of τ_min frames depends only on earlier blocks, and a
    # block is one vectorised step. A path may start in any phase of any period: its "previous
    # beat" lay 0 … τ_j - 1 frames before the first frame, at the prior's score.
    tau_max, tau_min = int(periods[-1]), int(periods[0])
    prior = np.ones(n_periods) if period_prior is None else np.asarray(period_prior, float)
    start = np.log(prior / prior.sum() + 1e-300) - np.log(periods)
    score = np.full((n + tau_max, n_periods), -np.inf)  # row r is frame r - tau_max
    for j, tau in enumerate(periods):
        score[tau_max - tau + 1 : tau_max, j] = start[j]  # before the first frame
    score[tau_max] = start + gain[0]
    back = np.zeros((n, n_periods), dtype=np.int16)
    back[0] = np.arange(n_periods)
    for t0 in range(1, n, tau_min):
        t = np.arange(t0, min(n, t0 + tau_min))
        prev = score[(t + tau_max)[:, None] - periods[None, :], np.arange(n_periods)]  # [L, I]
        ends = prev[:, :, None] + log_trans[None, :, :]  # [L, from I, to I]
        src = np.argmax(ends, axis=1)
        back[t] = src
        score[t + tau_max] = (
            np.take_along_axis(ends, src[:, None, :], axis=1)[:, 0, :] + gain[t, None]
        )
    # the best final state: the last beat lay 0 … τ_i - 1 frames before the last frame
    best, t_beat, i = -np.inf, -1, 0
    for j, tau in enumerate(periods):
        rows = score[tau_max + n - tau : tau_max + n, j]
        k = int(np.argmax(rows))
        if rows[k] > best:
            best, t_beat, i = float(rows[k]), n - tau + k, j
    beats = []
    while t_beat >= 0:
        beats.append(t_beat)
        j = int(back[t_beat, i])
        t_beat, i = t_beat - int(periods[j]), j
    return np.array(beats[::-1], dtype=int)
