"""A synthetic stress corpus for beat, downbeat and tempo tracking, with exact annotations.

Each clip is a small seeded arrangement (drum kit, bass, chord pad, stabs or piano) played on a
*performed* time line: the beat times come from a tempo curve (steady, ramp, step, rubato) and
every note is placed at its metrical position on that line, then swung and humanised (Gaussian
jitter per note, as a drummer's). The annotations are therefore exact: ``<name>.beats.txt`` (one
``time<TAB>position-in-bar`` line per beat, the .beats format of the MIR datasets) and
``<name>.json`` (spec, beats, downbeats, meter, tempo range).

Clips are written to ``cache/stress/`` (git-ignored) as 22.05 kHz mono 16-bit WAV, regenerated
only when the spec or :data:`VERSION` changes. ``python benchmarks/stress_corpus.py`` writes them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from stress_synth import SR, render_clip  # sibling module (benchmarks/ is not a package)

VERSION = 3
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = ROOT / "cache" / "stress"


@dataclass(frozen=True)
class ClipSpec:
    """One clip. ``bpm`` is the annotated beat rate at the start; meter is ``beats/subdivision``:
    4/4 → (4, 2), 3/4 → (3, 2), 6/8 → (2, 3) (the dotted quarter is the beat)."""

    name: str
    condition: str  # the table row it is reported under
    style: str  # drum/arrangement pattern, see stress_synth.PATTERNS
    bpm: float
    beats_per_bar: int = 4
    subdivision: int = 2
    seconds: float = 24.0
    swing: float = 0.5  # where the off-beat eighth falls within the beat (0.5 = straight)
    jitter_ms: float = 15.0  # σ of per-note timing noise
    tempo: str = "steady"  # steady | ramp | step | rubato
    tempo_change: float = 0.0  # relative change for ramp/step, depth for rubato
    intro_bars: int = 0  # quiet intro (pad and soft hats only)
    break_every: int = 0  # drum break (drums out, 2 bars) every N bars; fills before it
    seed: int = 0


CORPUS: tuple[ClipSpec, ...] = (
    # humanised, steady tempo
    ClipSpec("rock_110", "steady", "rock", 110.0, jitter_ms=15, seed=1),
    ClipSpec("pop_128", "steady", "rock", 128.0, jitter_ms=10, seed=2),
    ClipSpec("funk_100", "steady", "funk", 100.0, jitter_ms=12, seed=3),
    ClipSpec("house_124", "steady", "house", 124.0, jitter_ms=10, seed=4),
    ClipSpec("punk_176", "steady", "punk", 176.0, jitter_ms=15, seed=5),
    ClipSpec("ballad_72", "steady", "ballad", 72.0, jitter_ms=20, seed=6),
    ClipSpec("rock_92_loose", "steady", "rock", 92.0, jitter_ms=25, seed=7),
    # swing
    ClipSpec("jazz_160", "swing", "jazz", 160.0, swing=0.67, jitter_ms=15, seed=11),
    ClipSpec("shuffle_104", "swing", "shuffle", 104.0, swing=0.62, jitter_ms=15, seed=12),
    ClipSpec("hiphop_90", "swing", "funk", 90.0, swing=0.57, jitter_ms=12, seed=13),
    # off-beat accents
    ClipSpec("ska_150", "offbeat", "ska", 150.0, jitter_ms=12, seed=21),
    ClipSpec("onedrop_76", "offbeat", "onedrop", 76.0, jitter_ms=15, seed=22),
    ClipSpec("offbass_122", "offbeat", "offbass", 122.0, jitter_ms=10, seed=23),
    # other meters
    ClipSpec("waltz_132", "meter", "waltz", 132.0, beats_per_bar=3, jitter_ms=15, seed=31),
    ClipSpec("folk34_96", "meter", "waltz", 96.0, beats_per_bar=3, jitter_ms=20, seed=32),
    ClipSpec("six8_84", "meter", "six8", 84.0, 2, 3, jitter_ms=15, seed=33),
    ClipSpec("six8_66", "meter", "six8", 66.0, 2, 3, jitter_ms=18, seed=34),
    # sparse arrangements, quiet intros, breaks and fills
    ClipSpec("intro_116", "sparse/breaks", "rock", 116.0, intro_bars=4, seed=41),
    ClipSpec("breaks_132", "sparse/breaks", "rock", 132.0, break_every=6, seed=42),
    ClipSpec("keys_bass_96", "sparse/breaks", "keys", 96.0, jitter_ms=15, seed=43),
    # tempo changes (±10 %)
    ClipSpec("ramp_up_100", "tempo change", "rock", 100.0, tempo="ramp", tempo_change=0.1, seed=51),
    ClipSpec(
        "ramp_down_128", "tempo change", "funk", 128.0, tempo="ramp", tempo_change=-0.1, seed=52
    ),  # fmt: skip
    ClipSpec(
        "step_up_120", "tempo change", "house", 120.0, tempo="step", tempo_change=0.1, seed=53
    ),  # fmt: skip
    ClipSpec(
        "step_down_110", "tempo change", "rock", 110.0, tempo="step", tempo_change=-0.1, seed=54
    ),  # fmt: skip
    # rubato and drifting live tempo
    ClipSpec(
        "drift_band_104",
        "rubato",
        "rock",
        104.0,
        tempo="rubato",
        tempo_change=0.06,
        jitter_ms=20,
        seed=61,
    ),  # fmt: skip
    ClipSpec(
        "rubato_keys_84",
        "rubato",
        "keys",
        84.0,
        tempo="rubato",
        tempo_change=0.12,
        jitter_ms=20,
        seed=62,
    ),  # fmt: skip
    ClipSpec(
        "rubato_ballad_70",
        "rubato",
        "ballad",
        70.0,
        tempo="rubato",
        tempo_change=0.1,
        jitter_ms=20,
        seed=63,
    ),  # fmt: skip
)


def beat_times(spec: ClipSpec) -> np.ndarray:
    """Annotated beat times (s) ``[B]`` of ``spec`` from its tempo curve, starting at 0.3 s."""
    dt = 0.005
    t = np.arange(0.0, spec.seconds + 4.0, dt)
    if spec.tempo == "steady":
        bpm = np.full_like(t, spec.bpm)
    elif spec.tempo == "ramp":  # linear over the clip, then held
        bpm = spec.bpm * (1.0 + spec.tempo_change * np.clip(t / spec.seconds, 0.0, 1.0))
    elif spec.tempo == "step":  # a change at the bar nearest the middle
        bar = spec.beats_per_bar * 60.0 / spec.bpm
        at = bar * round(spec.seconds / 2 / bar) + 0.3
        bpm = np.where(t < at, spec.bpm, spec.bpm * (1.0 + spec.tempo_change))
    elif spec.tempo == "rubato":  # smooth random tempo (4–8 s swells) with phrase-end ritardandi
        rng = np.random.default_rng(1000 + spec.seed)
        knots = np.arange(0.0, t[-1] + 6.0, 3.0)
        walk = rng.standard_normal(len(knots))
        curve = np.interp(t, knots, walk)
        curve = np.convolve(curve, np.hanning(301) / np.hanning(301).sum(), mode="same")
        curve /= np.abs(curve).max() + 1e-9
        phrase = (t % 8.0) / 8.0
        rit = -0.6 * np.clip((phrase - 0.8) / 0.2, 0.0, 1.0) ** 2  # slow down into each phrase end
        bpm = spec.bpm * np.exp(spec.tempo_change * (curve + rit))
    else:
        raise ValueError(f"stress corpus {spec.name}: tempo {spec.tempo!r} is not a tempo curve")
    phase = np.r_[0.0, np.cumsum(bpm / 60.0 * dt)[:-1]]  # beats elapsed at each t
    k = np.arange(0, int(phase[-1]))
    times = 0.3 + np.interp(k, phase, t)
    return times[times < spec.seconds - 0.3]


def annotation(spec: ClipSpec, beats: np.ndarray) -> dict:
    """The clip's annotation record (what ``<name>.json`` holds)."""
    positions = (np.arange(len(beats)) % spec.beats_per_bar) + 1
    meter = {(4, 2): "4/4", (3, 2): "3/4", (2, 3): "6/8"}.get(
        (spec.beats_per_bar, spec.subdivision), f"{spec.beats_per_bar}/{spec.subdivision}"
    )
    ibi = np.diff(beats)
    return {
        "version": VERSION,
        "spec": asdict(spec),
        "sample_rate": SR,
        "meter": meter,
        "bpm_start": spec.bpm,
        "bpm_median": round(float(60.0 / np.median(ibi)), 3),
        "bpm_min": round(float(60.0 / ibi.max()), 3),
        "bpm_max": round(float(60.0 / ibi.min()), 3),
        "beats": [round(float(b), 5) for b in beats],
        "positions": positions.tolist(),
        "downbeats": [round(float(b), 5) for b in beats[:: spec.beats_per_bar]],
    }


def _spec_hash(spec: ClipSpec) -> str:
    return hashlib.sha256(json.dumps([VERSION, asdict(spec)]).encode()).hexdigest()[:16]


def write_clip(spec: ClipSpec, out_dir: Path) -> Path:
    """Render ``spec`` to ``out_dir/<name>.wav`` (+ .json, .beats.txt) unless it is up to date."""
    import soundfile as sf

    out_dir.mkdir(parents=True, exist_ok=True)
    wav, meta = out_dir / f"{spec.name}.wav", out_dir / f"{spec.name}.json"
    digest = _spec_hash(spec)
    if wav.is_file() and meta.is_file():
        try:
            if json.loads(meta.read_text()).get("spec_hash") == digest:
                return wav
        except json.JSONDecodeError:
            pass  # rewrite below
    beats = beat_times(spec)
    y = render_clip(spec, beats)
    sf.write(str(wav), y, SR, subtype="PCM_16")
    record = {**annotation(spec, beats), "spec_hash": digest}
    meta.write_text(json.dumps(record, indent=1))
    lines = [f"{b:.5f}\t{p}" for b, p in zip(record["beats"], record["positions"], strict=True)]
    (out_dir / f"{spec.name}.beats.txt").write_text("\n".join(lines) + "\n")
    return wav


def build_corpus(out_dir: Path = DEFAULT_DIR, *, names: list[str] | None = None) -> list[Path]:
    """Write (or reuse) every clip of :data:`CORPUS` (or those in ``names``); their WAV paths."""
    specs = [s for s in CORPUS if names is None or s.name in names]
    unknown = set(names or []) - {s.name for s in specs}
    if unknown:
        raise ValueError(f"stress corpus: unknown clip names {sorted(unknown)}")
    return [write_clip(s, out_dir) for s in specs]


def load_annotation(wav: Path) -> dict:
    """The annotation record beside ``wav``."""
    return json.loads(wav.with_suffix(".json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR)
    parser.add_argument("names", nargs="*", help="clip names (default: all)")
    args = parser.parse_args(argv)
    for path in build_corpus(args.out, names=args.names or None):
        ann = load_annotation(path)
        print(f"{path.name:24} {ann['spec']['condition']:14} {ann['meter']:4} "
              f"{ann['bpm_min']:6.1f}–{ann['bpm_max']:6.1f} bpm  {len(ann['beats'])} beats")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
