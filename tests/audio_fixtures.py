"""Synthetic audio for tests: click tracks at known tempo, triads, noise — all seeded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

SR = 22050
_NOTE = {
    "C": 0,
    "C#": 1,
    "D": 2,
    "Eb": 3,
    "E": 4,
    "F": 5,
    "F#": 6,
    "G": 7,
    "Ab": 8,
    "A": 9,
    "Bb": 10,
    "B": 11,
}


def tone(freq: float, seconds: float, *, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def midi_hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def triad(root: str, minor: bool, seconds: float, *, sr: int = SR, octave: int = 4) -> np.ndarray:
    base = 12 * (octave + 1) + _NOTE[root]
    notes = [base, base + (3 if minor else 4), base + 7, base - 12]
    y = sum(tone(midi_hz(n), seconds, sr=sr, amp=0.12) for n in notes)
    env = np.minimum(1.0, np.linspace(0, seconds * 40, len(y)))
    return (y * env).astype(np.float32)


def click_track(
    bpm: float,
    seconds: float,
    *,
    sr: int = SR,
    accent_every: int = 4,
    offset: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Kick-like clicks at ``bpm``; returns ``(y [N], beat_times)``; downbeats accented."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    y = 0.003 * rng.standard_normal(n).astype(np.float32)
    period = 60.0 / bpm
    beats = np.arange(offset, seconds - 0.05, period)
    click_len = int(0.08 * sr)
    t = np.arange(click_len) / sr
    body = np.sin(2 * np.pi * (60 + 120 * np.exp(-t * 40)) * t) * np.exp(-t * 30)
    for i, b in enumerate(beats):
        start = int(b * sr)
        amp = 0.9 if i % accent_every == 0 else 0.5
        seg = y[start : start + click_len]
        seg += (amp * body[: len(seg)]).astype(np.float32)
    return y, beats


def write_wav(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    sf.write(str(path), y.T if y.ndim == 2 else y, sr)
    return path
