"""Sound sources for the album: band-limited oscillators, envelopes, filters and drum voices.

Every function returns float64 mono arrays ``[n]`` at ``sr``; randomness (noise) comes from a
``numpy.random.Generator`` passed in, so a voice rendered twice with the same seed is identical.
Filters with moving cutoffs run as short blocks of fixed biquads (``scipy.signal.lfilter`` with the
state carried across blocks): a sweep is then a staircase of 64-sample steps, inaudible at 48 kHz.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

SR = 48_000
BLOCK = 64


def midi_hz(note: float) -> float:
    """Frequency in Hz of a MIDI note number (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _phase(freq: np.ndarray, *, sr: int, phase0: float) -> np.ndarray:
    return (phase0 + np.cumsum(freq / sr) - freq[0] / sr) % 1.0


def _polyblep(t: np.ndarray, dt: np.ndarray) -> np.ndarray:
    # Subtracts the aliasing step residual around each wrap of the phase (Välimäki's PolyBLEP).
    out = np.zeros_like(t)
    lo = t < dt
    x = t[lo] / dt[lo]
    out[lo] = 2 * x - x * x - 1
    hi = t > 1 - dt
    x = (t[hi] - 1) / dt[hi]
    out[hi] = x * x + 2 * x + 1
    return out


def saw(freq: np.ndarray, *, sr: int = SR, phase0: float = 0.0) -> np.ndarray:
    """Band-limited sawtooth in [-1, 1]; ``freq`` [n] Hz per sample."""
    freq = np.asarray(freq, dtype=np.float64)
    t = _phase(freq, sr=sr, phase0=phase0)
    return 2 * t - 1 - _polyblep(t, freq / sr)


def square(freq: np.ndarray, *, sr: int = SR, phase0: float = 0.0) -> np.ndarray:
    """Band-limited square (difference of two half-period-shifted saws), [n]."""
    return 0.5 * (saw(freq, sr=sr, phase0=phase0) - saw(freq, sr=sr, phase0=phase0 + 0.5))


def sine(freq: np.ndarray, *, sr: int = SR, phase0: float = 0.0) -> np.ndarray:
    """Sine from an instantaneous-frequency array [n]."""
    freq = np.asarray(freq, dtype=np.float64)
    return np.sin(2 * np.pi * _phase(freq, sr=sr, phase0=phase0))


def adsr(
    n: int, *, gate: int, attack: float, decay: float, sustain: float, release: float, sr: int = SR
) -> np.ndarray:
    """Linear-attack, exponential decay/release envelope [n]; the note is held for ``gate`` samples."""
    t = np.arange(n) / sr
    a = max(attack, 1e-4)
    env = np.where(t < a, t / a, sustain + (1 - sustain) * np.exp(-(t - a) / max(decay, 1e-4)))
    g = min(gate, n)
    level = env[g - 1] if g > 0 else 0.0
    rel = level * np.exp(-(t - g / sr) / max(release, 1e-4))
    return np.where(np.arange(n) < g, env, rel)


def biquad(kind: str, *, cutoff: float, q: float = 0.707, sr: int = SR) -> tuple:
    """RBJ cookbook biquad ``(b, a)`` for kind "lp", "hp" or "bp"."""
    w0 = 2 * np.pi * min(max(cutoff, 10.0), 0.45 * sr) / sr
    alpha = np.sin(w0) / (2 * q)
    cw = np.cos(w0)
    if kind == "lp":
        b = np.array([(1 - cw) / 2, 1 - cw, (1 - cw) / 2])
    elif kind == "hp":
        b = np.array([(1 + cw) / 2, -(1 + cw), (1 + cw) / 2])
    elif kind == "bp":
        b = np.array([alpha, 0.0, -alpha])
    else:
        raise ValueError(f"biquad kind must be 'lp', 'hp' or 'bp', got {kind!r}")
    a = np.array([1 + alpha, -2 * cw, 1 - alpha])
    return b / a[0], a / a[0]


def sweep_filter(
    x: np.ndarray, *, cutoff: np.ndarray | float, kind: str = "lp", q: float = 0.707, sr: int = SR
) -> np.ndarray:
    """Filter ``x`` [n] with a cutoff that may move per sample (``cutoff`` [n] Hz or a constant)."""
    if np.isscalar(cutoff):
        b, a = biquad(kind, cutoff=float(cutoff), q=q, sr=sr)
        return signal.lfilter(b, a, x)
    cutoff = np.asarray(cutoff, dtype=np.float64)
    out = np.empty_like(x)
    zi = np.zeros(2)
    for start in range(0, len(x), BLOCK):
        b, a = biquad(kind, cutoff=float(cutoff[start]), q=q, sr=sr)
        out[start : start + BLOCK], zi = signal.lfilter(b, a, x[start : start + BLOCK], zi=zi)
    return out


def exp_env(n: int, *, tau: float, sr: int = SR) -> np.ndarray:
    """``exp(-t / tau)`` over ``n`` samples."""
    return np.exp(-np.arange(n) / (tau * sr))


# --- drums ---------------------------------------------------------------------------------


def kick(*, rng: np.random.Generator, tune: float = 50.0, sr: int = SR) -> np.ndarray:
    """Kick drum [0.45 s]: sine swept ~160 Hz → ``tune`` (pitch envelope), soft-clipped, a click."""
    n = int(0.45 * sr)
    t = np.arange(n) / sr
    freq = tune + 112 * np.exp(-t / 0.014)  # fast sweep: little energy between pitches
    body = sine(freq, sr=sr) * exp_env(n, tau=0.16, sr=sr)
    click = sweep_filter(rng.standard_normal(n), cutoff=3000.0, kind="bp", q=0.8) * exp_env(
        n, tau=0.003, sr=sr
    )
    return np.tanh(1.6 * body) * 0.9 + 0.25 * click


def snare(*, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Snare [0.3 s]: a 190 Hz tone body under band-passed noise."""
    n = int(0.3 * sr)
    t = np.arange(n) / sr
    tone = sine(190 - 30 * t / t[-1], sr=sr) * exp_env(n, tau=0.05, sr=sr)
    noise = sweep_filter(rng.standard_normal(n), cutoff=4500.0, kind="bp", q=0.6)
    return 0.6 * tone + 0.9 * noise * exp_env(n, tau=0.07, sr=sr)


def clap(*, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Clap [0.35 s]: three quick noise bursts then a decaying tail, band-passed near 1.3 kHz."""
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    env = np.zeros(n)
    for onset in (0.0, 0.011, 0.022):
        env += np.where(t >= onset, np.exp(-np.clip(t - onset, 0, None) / 0.006), 0.0)
    env += 0.7 * np.where(t >= 0.03, np.exp(-np.clip(t - 0.03, 0, None) / 0.09), 0.0)
    noise = sweep_filter(rng.standard_normal(n), cutoff=1300.0, kind="bp", q=1.2)
    return 1.6 * noise * env / env.max()


def hat(*, rng: np.random.Generator, open_: bool = False, sr: int = SR) -> np.ndarray:
    """Closed (50 ms decay) or open (250 ms) hi-hat: high-passed noise with metallic partials."""
    n = int((0.5 if open_ else 0.1) * sr)
    t = np.arange(n) / sr
    metal = sum(square(np.full(n, f), sr=sr) for f in (3140.0, 4570.0, 6030.0, 7750.0)) / 4
    raw = 0.6 * rng.standard_normal(n) + 0.5 * metal
    body = sweep_filter(sweep_filter(raw, cutoff=7000.0, kind="hp"), cutoff=9000.0, kind="hp")
    tau = 0.18 if open_ else 0.025
    return 0.8 * body * np.exp(-t / tau)


def crash(*, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Crash/impact [2.5 s]: bright noise with a long decay plus a sub boom."""
    n = int(2.5 * sr)
    noise = sweep_filter(rng.standard_normal(n), cutoff=5000.0, kind="hp")
    t = np.arange(n) / sr
    boom = sine(42 + 30 * np.exp(-t / 0.1), sr=sr) * exp_env(n, tau=0.5, sr=sr)
    return 0.35 * noise * exp_env(n, tau=0.7, sr=sr) + 0.6 * boom


def riser(n: int, *, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Noise riser [n]: a band-pass sweeping 300 Hz → 9 kHz with a rising level."""
    ramp = np.linspace(0.0, 1.0, n)
    cutoff = 300.0 * 30.0**ramp
    swept = sweep_filter(rng.standard_normal(n), cutoff=cutoff, kind="bp", q=1.5)
    return swept * ramp**2
