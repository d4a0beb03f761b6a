"""Instruments and arrangement patterns for the stress corpus (``stress_corpus.py``).

Everything is numpy and seeded. A pattern lists, per bar, ``(instrument, position, velocity)``
with positions in beats from the bar line; ``render_clip`` maps positions onto the clip's beat
times (linear within a beat, so tempo curves bend every note with them), swings the off-beat
eighths (and sixteenths), adds per-note Gaussian timing jitter and mixes the voices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SR = 22050
_PROGRESSIONS = (((0, False), (9, True), (5, False), (7, False)),  # I vi IV V
                 ((9, True), (5, False), (0, False), (7, False)),  # vi IV I V
                 ((0, True), (8, False), (3, False), (10, False)),  # i VI III VII
                 ((0, False), (5, False), (7, False), (5, False)))  # I IV V IV  # fmt: skip


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _highpass_noise(rng: np.random.Generator, n: int, order: int = 1) -> np.ndarray:
    x = rng.standard_normal(n + order)
    for _ in range(order):
        x = np.diff(x)
    return x / (np.abs(x).max() + 1e-9)


def kick(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.4)
    freq = 48.0 + 110.0 * np.exp(-t * 35.0)
    body = np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t * 8.0)
    click = _highpass_noise(rng, len(t)) * np.exp(-t * 400.0) * 0.4  # the beater
    return body + click


def snare(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.3)
    tone = (np.sin(2 * np.pi * 185 * t) + 0.5 * np.sin(2 * np.pi * 330 * t)) * np.exp(-t * 28)
    noise = _highpass_noise(rng, len(t)) * np.exp(-t * 16.0)
    return 0.5 * tone + 0.7 * noise


def hat(rng: np.random.Generator, *, open_: bool = False) -> np.ndarray:
    t = _t(0.35 if open_ else 0.07)
    return 0.35 * _highpass_noise(rng, len(t), 2) * np.exp(-t * (10.0 if open_ else 70.0))


def ride(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.9)
    bell = sum(np.sin(2 * np.pi * f * t) for f in (3170.0, 4310.0, 5520.0)) / 3
    return (0.15 * bell + 0.25 * _highpass_noise(rng, len(t), 2)) * np.exp(-t * 5.0)


def tom(rng: np.random.Generator) -> np.ndarray:
    t = _t(0.35)
    freq = 95.0 + 60.0 * np.exp(-t * 12.0) + rng.uniform(0, 40)
    return np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t * 9.0)


def crash(rng: np.random.Generator) -> np.ndarray:
    t = _t(1.6)
    return 0.3 * _highpass_noise(rng, len(t), 1) * np.exp(-t * 2.5)


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def tone_voice(midis: list[float], seconds: float, *, partials: int, attack: float,
               decay: float, sustain: float) -> np.ndarray:  # fmt: skip
    """Additive voice: ``partials`` harmonics (1/k), attack ramp, exponential decay to sustain."""
    t = _t(seconds + 0.15)
    y = np.zeros_like(t)
    for m in midis:
        f = _hz(m)
        for k in range(1, partials + 1):
            if k * f < SR / 2.2:
                y += np.sin(2 * np.pi * k * f * t) / k
    env = np.minimum(1.0, t / max(attack, 1e-3))
    env *= sustain + (1.0 - sustain) * np.exp(-t * decay)
    env *= np.clip((seconds + 0.15 - t) / 0.15, 0.0, 1.0)  # release
    return y * env / max(1, len(midis))


def piano(midis: list[float], seconds: float) -> np.ndarray:
    t = _t(seconds + 0.2)
    y = np.zeros_like(t)
    for m in midis:
        f = _hz(m)
        for k in range(1, 9):
            if k * f < SR / 2.2:
                y += np.sin(2 * np.pi * k * f * t) / k**1.3 * np.exp(-t * (1.5 + 0.8 * k))
    y *= np.minimum(1.0, t / 0.002) * np.clip((seconds + 0.2 - t) / 0.2, 0.0, 1.0)
    return y / max(1, len(midis))


def _drums(style: str, bpb: int, sub: int) -> list[tuple[str, float, float]]:
    eighths = [i / 2 for i in range(2 * bpb)]
    if style in ("rock", "ballad"):
        soft = 0.5 if style == "ballad" else 1.0
        return ([("kick", 0, 1.0 * soft), ("kick", 2, 0.9 * soft), ("kick", 2.5, 0.5 * soft),
                 ("snare", 1, 0.9 * soft), ("snare", 3, 0.9 * soft)]
                + [("hat", p, (0.7 if p % 1 == 0 else 0.45) * soft) for p in eighths])  # fmt: skip
    if style == "funk":
        return ([("kick", 0, 1.0), ("kick", 0.75, 0.6), ("kick", 2.5, 0.8), ("snare", 1, 0.9),
                 ("snare", 3, 0.9), ("snare", 1.75, 0.25), ("snare", 3.75, 0.25)]
                + [("hat", i / 4, 0.5 if i % 2 == 0 else 0.3) for i in range(16)])  # fmt: skip
    if style in ("house", "offbass"):
        return ([("kick", b, 1.0) for b in range(4)] + [("snare", 1, 0.6), ("snare", 3, 0.6)]
                + [("open", b + 0.5, 0.6) for b in range(4)]
                + [("hat", i / 4, 0.2) for i in range(16) if i % 2])  # fmt: skip
    if style == "punk":
        return ([("kick", 0, 1.0), ("kick", 1.5, 0.8), ("kick", 2, 1.0), ("snare", 1, 1.0),
                 ("snare", 3, 1.0)] + [("hat", p, 0.8) for p in eighths])  # fmt: skip
    if style == "jazz":
        return ([("ride", p, 0.7 if p % 1 == 0 else 0.5) for p in (0, 1, 1.5, 2, 3, 3.5)]
                + [("hat", 1, 0.5), ("hat", 3, 0.5)] + [("kick", b, 0.15) for b in range(4)]
                + [("snare", 2.5, 0.25)])  # fmt: skip
    if style == "shuffle":
        return [
            ("kick", 0, 1.0),
            ("kick", 2, 0.9),
            ("kick", 2.5, 0.5),
            ("snare", 1, 0.9),
            ("snare", 3, 0.9),
        ] + [("hat", p, 0.6 if p % 1 == 0 else 0.4) for p in eighths]
    if style == "ska":
        return (
            [("kick", b, 0.6) for b in range(4)]
            + [("snare", 1, 0.7), ("snare", 3, 0.7)]
            + [("hat", b, 0.3) for b in range(4)]
        )
    if style == "onedrop":
        return [("kick", 2, 1.0), ("snare", 2, 0.8)] + [("hat", p, 0.35) for p in eighths]
    if style == "waltz":
        return [("kick", 0, 1.0), ("snare", 1, 0.45), ("snare", 2, 0.45)] + [
            ("hat", p, 0.4) for p in eighths
        ]
    if style == "six8":
        return [("kick", 0, 1.0), ("snare", 1, 0.8)] + [
            ("hat", b + i / 3, 0.6 if i == 0 else 0.35) for b in range(bpb) for i in range(sub)
        ]
    return []  # keys: no drums


def _pitched(style: str, bpb: int, sub: int) -> list[tuple[str, float, float]]:
    """Bass ('bass'), piano ('pno'/'arp') and stab events per bar; the pad is added per bar."""
    if style in ("ska", "onedrop"):
        stabs = [b + 0.5 for b in range(4)] if style == "ska" else [1.0, 3.0]
        bass = [(b, 0.8) for b in range(4)] if style == "ska" else [(0.5, 0.8), (1.0, 0.7),
                                                                   (1.75, 0.6), (3.0, 0.8)]  # fmt: skip
        return [("stab", p, 1.0) for p in stabs] + [("bass", p, v) for p, v in bass]
    if style == "offbass":
        return [("bass", b + 0.5, 1.0) for b in range(4)]
    if style == "punk":
        return [("bass", i / 2, 0.9) for i in range(8)] + [("stab", i / 2, 0.5) for i in range(8)]
    if style == "funk":
        return [("bass", p, 0.8) for p in (0, 0.75, 1.5, 2.5, 3.0)] + [
            ("stab", 1.5, 0.5),
            ("stab", 3.5, 0.5),
        ]
    if style == "jazz":
        return [("bass", b, 0.8) for b in range(4)] + [("pno", 1.5, 0.5), ("pno", 3.0, 0.4)]
    if style in ("waltz",):
        return [("bass", 0, 0.9), ("pno", 1, 0.5), ("pno", 2, 0.5)]
    if style == "six8":
        return [("bass", 0, 0.9), ("bass", 1, 0.7)] + [
            ("arp", b + i / 3, 0.6 if i == 0 else 0.35) for b in range(bpb) for i in range(sub)
        ]
    if style in ("keys", "ballad"):
        return ([("pno", 0, 0.9), ("bass", 0, 0.9), ("bass", 2, 0.7)]
                + [("arp", i / 2, 0.55 if i % 2 == 0 else 0.3) for i in range(2 * bpb)])  # fmt: skip
    if style == "shuffle":
        return [("bass", i / 2, 0.7) for i in range(8)]
    return [("bass", i / 2, 0.7) for i in range(2 * bpb)]  # rock, house: eighth-note bass


def _position_to_time(pos: np.ndarray, beats: np.ndarray, *, swing: float, sub: int) -> np.ndarray:
    """Metrical positions (beats from the first beat) → seconds along the beat times, swung."""
    k = np.floor(pos + 1e-9).astype(int)
    frac = pos - k
    if sub == 2 and swing != 0.5:  # swing eighths and sixteenths: the beat's halves are unequal
        frac = np.where(frac < 0.5, frac / 0.5 * swing, swing + (frac - 0.5) / 0.5 * (1 - swing))
    ext = np.r_[beats, beats[-1] + (beats[-1] - beats[-2]) * np.arange(1, 3)]
    k = np.clip(k, 0, len(ext) - 2)
    return ext[k] + frac * (ext[k + 1] - ext[k])


def render_clip(spec: Any, beats: np.ndarray) -> np.ndarray:
    """Mono float32 audio ``[N]`` of a ``ClipSpec`` whose beats fall at ``beats`` (s)."""
    rng = np.random.default_rng(spec.seed)
    bpb, sub = spec.beats_per_bar, spec.subdivision
    n_bars = int(np.ceil(len(beats) / bpb))
    key = int(rng.integers(0, 12))
    prog = _PROGRESSIONS[int(rng.integers(0, len(_PROGRESSIONS)))]
    drums, pitched = _drums(spec.style, bpb, sub), _pitched(spec.style, bpb, sub)
    events: list[tuple[str, float, float, tuple[int, bool]]] = []
    for bar in range(n_bars):
        chord = prog[bar % len(prog)]
        chord = ((chord[0] + key) % 12, chord[1])
        intro = bar < spec.intro_bars
        in_break = spec.break_every and bar % spec.break_every >= spec.break_every - 2 and bar > 2
        fill_bar = spec.break_every and bar % spec.break_every == spec.break_every - 3
        origin = bar * bpb
        events.append(("pad", origin, 0.25 if intro else 0.5, chord))
        if intro:
            events += [("hat", origin + b, 0.2, chord) for b in range(bpb)]
            continue
        for name, pos, vel in drums:
            if in_break or (fill_bar and pos >= bpb - 1):
                continue
            if name == "kick" and vel < 0.6 and rng.random() < 0.5:
                continue  # optional kicks come and go, as a drummer plays them
            events.append((name, origin + pos, vel, chord))
        if fill_bar and drums:
            events += [("snare" if i % 2 else "tom", origin + bpb - 1 + i / 4, 0.7 + 0.07 * i, chord)
                       for i in range(4)]  # fmt: skip
        if bar and spec.break_every and bar % spec.break_every == 0 and drums:
            events.append(("crash", origin, 0.8, chord))
        events += [(name, origin + pos, vel, chord) for name, pos, vel in pitched]
    pos = np.array([e[1] for e in events])
    times = _position_to_time(pos, beats, swing=spec.swing, sub=sub)
    times = times + rng.normal(0.0, spec.jitter_ms / 1000.0, len(times))
    n = int(spec.seconds * SR)
    y = np.zeros(n + 2 * SR)
    beat_len = float(np.median(np.diff(beats)))
    drum_fn = {"kick": kick, "snare": snare, "ride": ride, "tom": tom, "crash": crash,
               "hat": lambda r: hat(r), "open": lambda r: hat(r, open_=True)}  # fmt: skip
    gains = {"kick": 1.2, "snare": 0.6, "hat": 0.5, "open": 0.4, "ride": 0.5, "tom": 0.6,
             "crash": 0.35, "bass": 0.3, "stab": 0.35, "pno": 0.35, "arp": 0.25, "pad": 0.12}  # fmt: skip
    for (name, _, vel, (root, minor)), t0 in zip(events, times, strict=True):
        if t0 < 0 or t0 >= spec.seconds:
            continue
        vel = vel * float(np.clip(1.0 + 0.1 * rng.standard_normal(), 0.6, 1.3))
        triad = [60 + root, 60 + root + (3 if minor else 4), 60 + root + 7]
        if name in drum_fn:
            x = drum_fn[name](rng)
        elif name == "bass":
            x = tone_voice([36 + root + (7 if rng.random() < 0.2 else 0)], 0.45 * beat_len,
                           partials=6, attack=0.012, decay=8.0, sustain=0.5)  # fmt: skip
        elif name == "stab":
            x = tone_voice(triad, 0.12, partials=8, attack=0.002, decay=25.0, sustain=0.0)
        elif name == "pno":
            x = piano([m - 12 for m in triad] + [triad[0]], beat_len)
        elif name == "arp":
            x = piano([triad[int(rng.integers(0, 3))] + 12 * int(rng.integers(0, 2))], beat_len)
        else:  # pad: the bar's chord, slow attack
            x = tone_voice(triad, bpb * beat_len, partials=3, attack=0.2, decay=0.5, sustain=0.7)
        i = int(round(t0 * SR))
        seg = x[: len(y) - i] * gains[name] * vel
        y[i : i + len(seg)] += seg
    y = y[:n]
    y += 10 ** (-75 / 20) * rng.standard_normal(n)  # a recording's noise floor
    return (0.8 * y / (np.abs(y).max() + 1e-9)).astype(np.float32)
