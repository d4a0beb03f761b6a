"""The album's scores: tempo, key, harmony, motifs and the section plan of each track.

Harmony is written to leave no doubt about the minor key (tracklist ground truth for the key
detector): the tonic chord takes half the bars, the dominant is the harmonic-minor V (major, with
the raised leading tone), and the relative major never gets a cadence. Sections are whole bars, so
every marker is a downbeat.
"""

from __future__ import annotations

from dataclasses import dataclass

# Chord = (root in semitones above the tonic, quality "m" or "M").
Chord = tuple[int, str]


@dataclass(frozen=True)
class Section:
    """``bars`` bars of the arrangement; ``parts`` maps part name → level (absent = silent).

    ``cutoff`` is the pad/arp low-pass at the section's start and end (Hz): a build opens it.
    """

    label: str
    bars: int
    parts: dict[str, float]
    cutoff: tuple[float, float] = (6000.0, 6000.0)
    riser: bool = False
    impact: bool = False


@dataclass(frozen=True)
class Song:
    """A track's score. ``tonic`` is the bass-octave MIDI note of the key's root."""

    id: str
    title: str
    bpm: float
    key: str
    tonic: int
    progression: tuple[Chord, ...]
    sections: tuple[Section, ...]
    lead_rhythm: tuple[tuple[float, float], ...]  # (beat in bar, length in beats)
    lead_tones: tuple[int, ...]  # chord-tone index per note (0 root, 1 third, 2 fifth, 3 octave…)
    bass_pattern: str  # "offbeat", "rolling" or "pulse"
    lead_wave: str = "saw"
    swing: float = 0.0  # delay of odd 16ths, as a fraction of a 16th
    seed: int = 0
    tail_seconds: float = 2.5
    hue: float = 0.6  # cover art palette

    @property
    def beat_seconds(self) -> float:
        return 60.0 / self.bpm

    @property
    def bar_seconds(self) -> float:
        return 4 * self.beat_seconds

    @property
    def first_beat(self) -> float:
        # Every track starts on a downbeat at t = 0 (no pickup), so beat grids are exact.
        return 0.0

    @property
    def n_bars(self) -> int:
        return sum(s.bars for s in self.sections)

    @property
    def duration(self) -> float:
        return self.first_beat + self.n_bars * self.bar_seconds + self.tail_seconds


FULL = {"kick": 1.0, "clap": 1.0, "hats": 1.0, "bass": 1.0, "pad": 0.8, "arp": 0.7, "lead": 1.0}


def _with(base: dict[str, float], **levels: float) -> dict[str, float]:
    out = dict(base)
    for name, level in levels.items():
        if level <= 0:
            out.pop(name, None)
        else:
            out[name] = level
    return out


def _plan(drop_bars: int, drop2_bars: int, intro: int = 8, build: int = 8, brk: int = 8):
    return (
        Section("intro", intro, {"kick": 0.6, "hats": 0.4, "pad": 0.7}, cutoff=(500.0, 1400.0)),
        Section(
            "build",
            build,
            _with(FULL, lead=0, clap=0.7, hats=0.6, arp=0.8, bass=0.6),
            cutoff=(900.0, 6500.0),
            riser=True,
        ),
        Section("drop", drop_bars, FULL, impact=True),
        Section(
            "breakdown",
            brk,
            {"pad": 0.8, "arp": 0.5, "lead": 0.45},
            cutoff=(2200.0, 2200.0),
            riser=True,
        ),
        Section("drop 2", drop2_bars, _with(FULL, arp=1.0), impact=True),
        Section(
            "outro", 4, {"kick": 0.8, "hats": 0.4, "pad": 1.0, "bass": 0.6}, cutoff=(3000.0, 400.0)
        ),
    )


OPENING = Song(
    id="opening",
    title="Opening",
    bpm=120.0,
    key="Am",
    tonic=33,  # A1
    progression=((0, "m"), (0, "m"), (8, "M"), (7, "M"), (0, "m"), (0, "m"), (5, "m"), (7, "M")),
    sections=_plan(16, 8),
    lead_rhythm=((0, 1.5), (1.5, 0.5), (2, 1), (3, 0.5), (3.5, 0.5)),
    lead_tones=(4, 3, 2, 1, 2),
    bass_pattern="offbeat",
    lead_wave="saw",
    seed=101,
    hue=0.58,
)

INTERFERENCE = Song(
    id="interference",
    title="Interference",
    bpm=98.0,
    key="F#m",
    tonic=30,  # F#1
    progression=((0, "m"), (0, "m"), (8, "M"), (7, "M"), (0, "m"), (5, "m"), (7, "M"), (0, "m")),
    sections=_plan(8, 8, intro=4),
    lead_rhythm=((0, 0.75), (0.75, 0.75), (1.5, 1.0), (2.5, 0.5), (3, 1)),
    lead_tones=(3, 2, 1, 2, 0),
    bass_pattern="pulse",
    lead_wave="square",
    swing=0.18,
    seed=202,
    hue=0.9,
)

SIGNAL = Song(
    id="signal",
    title="Signal",
    bpm=132.0,
    key="C#m",
    tonic=37,  # C#2
    progression=((0, "m"), (0, "m"), (8, "M"), (7, "M"), (0, "m"), (5, "m"), (0, "m"), (7, "M")),
    sections=_plan(16, 12),
    lead_rhythm=((0, 0.5), (0.5, 0.5), (1, 0.5), (1.5, 1.0), (2.5, 0.5), (3, 0.5), (3.5, 0.5)),
    lead_tones=(3, 4, 3, 2, 1, 2, 4),
    bass_pattern="rolling",
    lead_wave="saw",
    seed=303,
    hue=0.08,
)

SONGS: dict[str, Song] = {s.id: s for s in (OPENING, INTERFERENCE, SIGNAL)}
ORDER: tuple[str, ...] = ("opening", "interference", "signal")
