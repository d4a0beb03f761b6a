"""Score → stems: places every note and drum hit of a :class:`~album.songs.Song` on the timeline.

Times are exact: beat ``b`` (counted from the first downbeat) starts at sample
``round((first_beat + b * beat_seconds) * sr)``, so section starts land on the tracklist's markers.
Identical notes are synthesised once per track (a per-render cache, not module state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from album import synth
from album.songs import Section, Song

SR = synth.SR
MINOR, MAJOR = (0, 3, 7), (0, 4, 7)


@dataclass(frozen=True)
class Bar:
    """One bar of the arrangement: its index, section, position inside the section, chord."""

    index: int
    section: Section
    section_start_bar: int
    chord: tuple[int, str]


def bars_of(song: Song) -> list[Bar]:
    """Every bar of ``song`` in order, with the chord the progression gives it."""
    out: list[Bar] = []
    index = 0
    for section in song.sections:
        start = index
        for _ in range(section.bars):
            chord = song.progression[(index - start) % len(song.progression)]
            out.append(Bar(index, section, start, chord))
            index += 1
    return out


def chord_tones(chord: tuple[int, str], *, base: int, count: int) -> list[int]:
    """The first ``count`` chord tones upward from the chord root above ``base`` (MIDI)."""
    root, quality = chord
    steps = MINOR if quality == "m" else MAJOR
    return [base + root + steps[i % 3] + 12 * (i // 3) for i in range(count)]


def _kick_tuning(tonic: int) -> float:
    """Kick fundamental on the tonic (44–72 Hz), so its pitch sits in the key, not beside it."""
    for note in (tonic, tonic - 12, tonic + 12):
        if 44.0 <= synth.midi_hz(note) <= 72.0:
            return synth.midi_hz(note)
    return 50.0


class Stems:
    """Mono (``[n]``) and stereo (``[2, n]``) stem buffers of one track, with clipped adds."""

    NAMES_MONO = ("kick", "clap", "hats", "snare", "crash", "bass", "lead", "riser")
    NAMES_STEREO = ("pad", "arp")

    def __init__(self, n: int) -> None:
        self.n = n
        self.mono = {name: np.zeros(n) for name in self.NAMES_MONO}
        self.stereo = {name: np.zeros((2, n)) for name in self.NAMES_STEREO}
        self.kicks: list[tuple[int, float]] = []  # (sample, level) of every kick, for ducking

    def add(self, name: str, start: int, audio: np.ndarray, *, gain: float = 1.0) -> None:
        """Mix ``audio`` ([m] or [2, m]) into stem ``name`` at sample ``start`` (clipped to the end)."""
        if start >= self.n or start < 0:
            return
        stop = min(self.n, start + audio.shape[-1])
        buf = self.stereo[name] if name in self.stereo else self.mono[name]
        buf[..., start:stop] += gain * audio[..., : stop - start]


class Arranger:
    """Renders the stems of ``song`` for its first ``n`` samples."""

    def __init__(self, song: Song, *, n: int) -> None:
        self.song = song
        self.stems = Stems(n)
        seeds = np.random.SeedSequence(song.seed).spawn(4)
        drum_rng = np.random.default_rng(seeds[0])
        self.drums = {
            "kick": synth.kick(rng=drum_rng, tune=_kick_tuning(song.tonic)),
            "snare": synth.snare(rng=drum_rng),
            "clap": synth.clap(rng=drum_rng),
            "hat": synth.hat(rng=drum_rng),
            "open": synth.hat(rng=drum_rng, open_=True),
            "crash": synth.crash(rng=drum_rng),
        }
        self.fx_rng = np.random.default_rng(seeds[1])
        self._cache: dict[tuple, np.ndarray] = {}

    # -- timing ---------------------------------------------------------------------------
    def sample(self, beat: float) -> int:
        """Sample index of ``beat`` (beats counted from the first downbeat)."""
        return int(round((self.song.first_beat + beat * self.song.beat_seconds) * SR))

    def length(self, beats: float) -> int:
        return int(round(beats * self.song.beat_seconds * SR))

    def _cached(self, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # -- whole track ------------------------------------------------------------------------
    def render(self) -> Stems:
        """Place every part of every bar; returns the filled :class:`Stems`."""
        for bar in bars_of(self.song):
            if self.sample(4 * bar.index) >= self.stems.n:
                break
            self._bar(bar)
        return self.stems

    def _bar(self, bar: Bar) -> None:
        parts, b0 = bar.section.parts, 4 * bar.index
        pos = bar.index - bar.section_start_bar
        left = bar.section.bars - pos
        if bar.section.impact and pos == 0:
            self.stems.add("crash", self.sample(b0), self.drums["crash"])
        if "kick" in parts:
            # The kick drops out for the last two beats before a drop (the snare roll carries on).
            stop_early = bar.section.riser and left == 1 and "clap" in parts
            for beat in range(2 if stop_early else 4):
                at = self.sample(b0 + beat)
                self.stems.add("kick", at, self.drums["kick"], gain=parts["kick"])
                if at < self.stems.n:
                    self.stems.kicks.append((at, parts["kick"]))
        if "clap" in parts:
            for beat in (1, 3):
                self.stems.add(
                    "clap", self.sample(b0 + beat), self.drums["clap"], gain=parts["clap"]
                )
        if "hats" in parts:
            self._hats(b0, parts["hats"])
        if bar.section.riser and left <= 4:
            self._riser(b0, left)
        if "bass" in parts:
            self._bass(b0, bar.chord, parts["bass"])
        if "pad" in parts:
            self._pad(beat=b0, beats=4, chord=bar.chord, gain=parts["pad"])
        if "arp" in parts:
            self._arp(b0, bar.chord, parts["arp"])
        if "lead" in parts:
            self._lead(b0, bar, parts["lead"])

    # -- drums ------------------------------------------------------------------------------
    def _hats(self, b0: int, level: float) -> None:
        swing = self.song.swing
        for step in range(16):
            beat = b0 + step / 4 + (swing / 4 if step % 2 else 0.0)
            if step % 4 == 2:
                self.stems.add("hats", self.sample(beat), self.drums["open"], gain=0.55 * level)
            elif level >= 0.9 or step % 2 == 0:
                accent = 0.5 if step % 4 == 0 else 0.32
                self.stems.add("hats", self.sample(beat), self.drums["hat"], gain=accent * level)

    def _riser(self, b0: int, bars_left: int) -> None:
        if bars_left == 4:
            n = self.length(16)
            self.stems.add("riser", self.sample(b0), synth.riser(n, rng=self.fx_rng), gain=0.5)
        if bars_left <= 2:
            # Snare roll: 8ths, then 16ths in the last bar, rising in level into the drop.
            steps = 16 if bars_left == 1 else 8
            for i in range(steps):
                gain = 0.25 + 0.45 * ((2 - bars_left) * 8 + i * 8 / steps) / 16
                beat = b0 + 4 * i / steps
                self.stems.add("snare", self.sample(beat), self.drums["snare"], gain=gain)

    # -- pitched parts ------------------------------------------------------------------------
    def _bass(self, b0: int, chord: tuple[int, str], level: float) -> None:
        root = self.song.tonic + chord[0]
        if root > self.song.tonic + 5:
            root -= 12  # keep the bass line close to the tonic register
        pattern = self.song.bass_pattern
        if pattern == "offbeat":
            notes = [(b + 0.5, 0.45, root) for b in range(4)] + [(3.75, 0.2, root + 12)]
        elif pattern == "rolling":
            notes = [(s / 4, 0.22, root + (12 if s % 4 == 3 else 0)) for s in range(16) if s % 4]
        else:  # "pulse": driving 8ths on the root, octave on the last
            notes = [(s / 2, 0.4, root) for s in range(8)]
            notes[-1] = (3.5, 0.4, root + 12)
        for beat, length, note in notes:
            audio = self._cached(
                ("bass", note, length), lambda n=note, L=length: self._bass_note(n, L)
            )
            self.stems.add("bass", self.sample(b0 + beat), audio, gain=level)

    def _bass_note(self, note: int, beats: float) -> np.ndarray:
        gate = self.length(beats)
        n = gate + int(0.08 * SR)
        f = np.full(n, synth.midi_hz(note))
        env = synth.adsr(n, gate=gate, attack=0.003, decay=0.12, sustain=0.6, release=0.04)
        filt_env = synth.exp_env(n, tau=0.07)
        tone = 0.55 * synth.saw(f) + 0.45 * synth.square(f * 1.003)
        tone = synth.sweep_filter(tone, cutoff=180 + 1600 * filt_env, q=1.1)
        return (0.9 * tone + 0.7 * synth.sine(f)) * env

    def _pad(self, *, beat: float, beats: float, chord: tuple[int, str], gain: float = 1.0) -> None:
        key = ("pad", chord, beats)
        audio = self._cached(key, lambda: self._pad_chord(chord, beats))
        self.stems.add("pad", self.sample(beat), audio, gain=gain)

    def _pad_chord(self, chord: tuple[int, str], beats: float) -> np.ndarray:
        gate = self.length(beats)
        n = gate + int(0.6 * SR)
        base = self.song.tonic + 24
        notes = chord_tones(chord, base=base if chord[0] < 6 else base - 12, count=5)
        notes.append(self.song.tonic + 12)  # the tonic under every chord keeps the key anchored
        env = synth.adsr(n, gate=gate, attack=0.25, decay=0.8, sustain=0.75, release=0.5)
        out = np.zeros((2, n))
        for ch, detunes in enumerate(((-0.12, 0.0, 0.07), (-0.07, 0.0, 0.12))):
            for i, note in enumerate(notes):
                for j, cents in enumerate(detunes):
                    f = np.full(n, synth.midi_hz(note + cents))
                    out[ch] += synth.saw(f, phase0=0.37 * (i + 3 * j + ch)) / len(detunes)
        return 0.12 * out * env

    def _arp(self, b0: int, chord: tuple[int, str], level: float) -> None:
        tones = chord_tones(chord, base=self.song.tonic + 24, count=7)
        order = [0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1, 2, 3, 4, 5]
        for step, idx in enumerate(order):
            note = tones[idx]
            mono = self._cached(("arp", note), lambda n=note: self._pluck(n))
            pan = 0.35 if step % 2 else -0.35
            stereo = np.stack([mono * (1 - pan), mono * (1 + pan)]) * 0.7
            swing = self.song.swing / 4 if step % 2 else 0.0
            self.stems.add("arp", self.sample(b0 + step / 4 + swing), stereo, gain=level)

    def _pluck(self, note: int) -> np.ndarray:
        n = int(0.35 * SR)
        f = np.full(n, synth.midi_hz(note))
        tone = synth.saw(f) + 0.5 * synth.square(f * 2.002)
        tone = synth.sweep_filter(tone, cutoff=400 + 5000 * synth.exp_env(n, tau=0.05), q=1.4)
        return 0.22 * tone * synth.exp_env(n, tau=0.12)

    def _lead(self, b0: int, bar: Bar, level: float) -> None:
        song = self.song
        base = song.tonic + (36 if song.tonic < 36 else 24)
        tones = chord_tones(bar.chord, base=base if bar.chord[0] < 6 else base - 12, count=6)
        answer = bar.index % 2 == 1  # call and response: odd bars answer one chord tone lower
        for (beat, length), idx in zip(song.lead_rhythm, song.lead_tones, strict=True):
            note = tones[max(idx - 1, 0) if answer else idx]
            audio = self._cached(
                ("lead", note, length), lambda n=note, L=length: self._lead_note(n, L)
            )
            self.stems.add("lead", self.sample(b0 + beat), audio, gain=level)

    def _lead_note(self, note: int, beats: float) -> np.ndarray:
        gate = self.length(beats) - int(0.01 * SR)
        n = gate + int(0.25 * SR)
        t = np.arange(n) / SR
        vibrato = 1 + 0.004 * np.sin(2 * np.pi * 5.5 * t) * np.clip((t - 0.15) / 0.2, 0, 1)
        f = synth.midi_hz(note) * vibrato
        if self.song.lead_wave == "square":
            tone = synth.square(f) + 0.5 * synth.saw(f * 1.005)
        else:
            tone = synth.saw(f) + synth.saw(f * 1.006, phase0=0.3)
        env = synth.adsr(n, gate=gate, attack=0.01, decay=0.25, sustain=0.7, release=0.12)
        cutoff = 1200 + 3800 * synth.adsr(
            n, gate=gate, attack=0.02, decay=0.2, sustain=0.4, release=0.1
        )
        return 0.2 * synth.sweep_filter(tone, cutoff=cutoff, q=1.2) * env


def section_cutoffs(song: Song, *, n: int) -> np.ndarray:
    """Per-sample pad/arp low-pass cutoff [n] Hz: each section moves geometrically start → end."""
    out = np.full(n, song.sections[0].cutoff[0])
    bar = 0
    for section in song.sections:
        start = int(round((song.first_beat + 4 * bar * song.beat_seconds) * SR))
        bar += section.bars
        stop = int(round((song.first_beat + 4 * bar * song.beat_seconds) * SR))
        if start >= n:
            break
        lo, hi = section.cutoff
        ramp = np.linspace(0.0, 1.0, stop - start)
        out[start:stop] = (lo * (hi / lo) ** ramp)[: max(0, min(stop, n) - start)]
        out[stop:] = hi
    return out
