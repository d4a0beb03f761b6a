"""Beat tracking as Viterbi decoding over a (beat period, phase) state space.

The state space is Krebs, Böck & Widmer's (ISMIR 2015) efficient bar pointer at the beat level:
for every whole-frame beat period ``τ`` in the allowed range there are ``τ`` phase states
``0 … τ-1``; time advances the phase by one frame, and only at the end of a beat (phase ``τ-1``)
may the period change, with probability ∝ ``exp(-λ |τ'/τ - 1|)``. Phase 0 is the beat. The
observation is the onset activation ``a`` in (0, 1): a beat state scores ``log a``, every other
state ``log((1 - a)/(ν - 1))`` (ν = 16: beats are rare among frames). The path through this
lattice is a beat sequence with a *locally varying* tempo: it follows a drummer who drifts, a
ramp, a step, and breaks a constant grid only where the evidence does.

Decoding is vectorised numpy (O(T·S) with S ≈ 400–800 states): a 5-minute track decodes in well
under a second, with no compiled extension.
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
    last = first + periods - 1
    n_states = int(periods.sum())
    if n < 2 * periods[0]:
        return np.zeros(0, dtype=int)
    # period transitions at beat ends, normalised per source period
    ratio = periods[None, :] / periods[:, None]
    log_trans = -transition_lambda * np.abs(ratio - 1.0)
    log_trans -= np.log(np.exp(log_trans).sum(axis=1, keepdims=True))
    log_beat = np.log(a)
    log_other = np.log((1.0 - a) / (observation_lambda - 1.0))
    # start anywhere (uniform phase within each period), weighted by the period prior
    prior = np.ones(len(periods)) if period_prior is None else np.asarray(period_prior, float)
    delta = np.repeat(np.log(prior / prior.sum() + 1e-300) - np.log(periods), periods)
    is_first = np.zeros(n_states, dtype=bool)
    is_first[first] = True
    delta = delta + np.where(is_first, log_beat[0], log_other[0])
    back = np.empty((n, len(periods)), dtype=np.int16)
    for t in range(1, n):
        ends = delta[last][:, None] + log_trans  # [from I, to I]
        src = np.argmax(ends, axis=0)
        new = np.empty_like(delta)
        new[1:] = delta[:-1]  # phase advances by one frame within every period
        new[first] = ends[src, np.arange(len(periods))]
        back[t] = src
        new += log_other[t]
        new[first] += log_beat[t] - log_other[t]
        delta = new
    # backtrack
    state = int(np.argmax(delta))
    period_of = np.repeat(np.arange(len(periods)), periods)
    beats = []
    for t in range(n - 1, -1, -1):
        i = period_of[state]
        if state == first[i]:
            beats.append(t)
            state = int(last[back[t, i]]) if t > 0 else state
        else:
            state -= 1
    return np.array(beats[::-1], dtype=int)
