"""Section-boundary accuracy: the analysis' sections against exact ground truth, no markers given.

Ground truth, in one run:
- the bundled album: the composer's own section starts (``album/tracklist.json`` ``sections``, the
  same numbers ``album/songs.py`` renders; the analysis never reads them);
- a synthetic set written here (``cache/sections/``): clips whose sections change one thing at a
  time — the drums, the bass, the harmony (a new progression), the key (the same progression
  transposed), the timbre of the harmonic part — with each section levelled to the same RMS (so
  no energy change marks the boundary), and one clip whose sections also change in level, as
  songs usually do;
- the real recordings in ``../shared/audio/`` have no section annotation: their boundaries are
  printed and drawn over loudness and chroma (``--plots DIR``) to be judged by eye.

Scores are ``mir_eval.segment.detection`` (hit within ±1 s and ±2 s; precision, recall, F; the
track's start and end are not boundaries). Prints markdown tables.

Usage: ``python benchmarks/sections_accuracy.py [--album album] [--shared ../shared/audio]
[--out cache/sections] [--plots DIR] [--json out.json] [--skip album|synthetic|shared]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import mir_eval
import numpy as np
import soundfile as sf

from renderer.analysis import analyze_track

SR = 22050
DEFAULT_DIR = Path("cache/sections")
WINDOWS = (1.0, 2.0)

# (name, bpm, bars per section, levelled, sections). A section: drums (none | half | full),
# bass (none | eighths | offbeat), chords (a progression name), voice (pad | bells | arp), gain.
_PROGRESSIONS = {
    "i-VI-III-VII": [(9, "m"), (5, "M"), (0, "M"), (7, "M")],  # in A minor
    "i-iv-v-i": [(9, "m"), (2, "m"), (4, "m"), (9, "m")],
    "III-VII-i": [(0, "M"), (7, "M"), (9, "m"), (9, "m")],
    "F#m": [(6, "m"), (2, "M"), (9, "M"), (4, "M")],  # another key
    "i-VI-III-VII in B": [(11, "m"), (7, "M"), (2, "M"), (9, "M")],  # up a tone
    "i-VI-III-VII in D": [(2, "m"), (10, "M"), (5, "M"), (0, "M")],  # up a fourth
}
CLIPS = [
    ("energy_120", 120, 8, False, [
        ("none", "none", "i-VI-III-VII", "pad", 0.35), ("half", "eighths", "i-VI-III-VII", "pad", 0.6),
        ("full", "eighths", "i-iv-v-i", "arp", 1.0), ("none", "none", "i-VI-III-VII", "pad", 0.4),
        ("full", "offbeat", "i-iv-v-i", "arp", 1.0), ("half", "none", "i-VI-III-VII", "bells", 0.5)]),
    ("drums_110", 110, 8, True, [
        ("none", "eighths", "i-VI-III-VII", "pad", 1.0), ("half", "eighths", "i-VI-III-VII", "pad", 1.0),
        ("full", "eighths", "i-VI-III-VII", "pad", 1.0), ("none", "eighths", "i-VI-III-VII", "pad", 1.0),
        ("full", "eighths", "i-VI-III-VII", "pad", 1.0)]),
    ("bass_96", 96, 8, True, [
        ("full", "none", "i-VI-III-VII", "pad", 1.0), ("full", "eighths", "i-VI-III-VII", "pad", 1.0),
        ("full", "offbeat", "i-VI-III-VII", "pad", 1.0), ("full", "none", "i-VI-III-VII", "pad", 1.0)]),
    ("harmony_100", 100, 8, True, [
        ("full", "eighths", "i-VI-III-VII", "pad", 1.0), ("full", "eighths", "F#m", "pad", 1.0),
        ("full", "eighths", "i-iv-v-i", "pad", 1.0), ("full", "eighths", "III-VII-i", "pad", 1.0),
        ("full", "eighths", "i-VI-III-VII", "pad", 1.0)]),
    ("timbre_124", 124, 8, True, [
        ("full", "eighths", "i-VI-III-VII", "pad", 1.0), ("full", "eighths", "i-VI-III-VII", "bells", 1.0),
        ("full", "eighths", "i-VI-III-VII", "arp", 1.0), ("full", "eighths", "i-VI-III-VII", "pad", 1.0),
        ("full", "eighths", "i-VI-III-VII", "bells", 1.0)]),
    ("mixed_116", 116, 4, True, [
        ("half", "eighths", "i-VI-III-VII", "pad", 1.0), ("full", "eighths", "i-VI-III-VII", "pad", 1.0),
        ("full", "offbeat", "i-VI-III-VII", "pad", 1.0), ("full", "offbeat", "F#m", "pad", 1.0),
        ("full", "offbeat", "F#m", "arp", 1.0), ("none", "offbeat", "F#m", "arp", 1.0),
        ("none", "offbeat", "i-iv-v-i", "bells", 1.0)]),
    # modulations: one progression, voice and groove throughout, only its key changes
    ("key_90", 90, 8, True, [
        ("full", "eighths", "i-VI-III-VII", "arp", 1.0), ("full", "eighths", "i-VI-III-VII in B", "arp", 1.0),
        ("full", "eighths", "i-VI-III-VII", "arp", 1.0), ("full", "eighths", "i-VI-III-VII in D", "arp", 1.0),
        ("full", "eighths", "i-VI-III-VII", "arp", 1.0)]),
]  # fmt: skip


# ------------------------------------------------------------------------------- the synthesiser
def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def _saw(f: float, n: int, phase: float = 0.0) -> np.ndarray:
    t = np.arange(n) / SR
    return 2.0 * ((f * t + phase) % 1.0) - 1.0


def _lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    return sosfilt(butter(2, cutoff, fs=SR, output="sos"), x)


def _drums(kind: str, n: int, beat: float, rng: np.random.Generator) -> np.ndarray:
    y = np.zeros(n)
    if kind == "none":
        return y
    t = np.arange(int(0.25 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 + 90 * np.exp(-t * 35)) * t) * np.exp(-t * 14)
    snare = rng.standard_normal(len(t)) * np.exp(-t * 22) * 0.5
    hat = np.diff(rng.standard_normal(int(0.05 * SR) + 1)) * np.exp(
        -np.arange(int(0.05 * SR)) / 200
    )
    steps = int(n / (SR * beat / 2))
    for s in range(steps):
        at = int(s * beat / 2 * SR)
        parts = [(hat, 0.15)]
        if kind == "full" and s % 2 == 0 or kind == "half" and s % 8 == 0:
            parts.append((kick, 0.9))
        if kind == "full" and s % 4 == 2 or kind == "half" and s % 8 == 4:
            parts.append((snare, 0.6))
        for sound, gain in parts:
            stop = min(n, at + len(sound))
            y[at:stop] += gain * sound[: stop - at]
    return y


def _bar_audio(chord: tuple[int, str], *, voice: str, bass: str, n: int, beat: float
               ) -> np.ndarray:  # fmt: skip
    root, quality = chord
    third = 3 if quality == "m" else 4
    low = 55 + (root - 7) % 12  # the root between G3 and F#4
    notes = [low, low + third, low + 7]
    y = np.zeros(n)
    if voice == "pad":
        for i, m in enumerate(notes):
            y += 0.18 * _lowpass(_saw(_hz(m), n, 0.3 * i) + _saw(_hz(m + 0.1), n), 1800)
    elif voice == "bells":
        step = int(beat * SR)
        t = np.arange(step) / SR
        for k in range(int(n / step)):
            for m in notes:
                tone = np.sin(2 * np.pi * _hz(m + 12) * t) + 0.4 * np.sin(
                    2 * np.pi * _hz(m + 31) * t
                )
                y[k * step : (k + 1) * step] += 0.3 * tone * np.exp(-t * 4)
    else:  # arp: bright square 16ths
        step = int(beat / 4 * SR)
        t = np.arange(step) / SR
        for k in range(int(n / step)):
            f = _hz(notes[k % 3] + 12 * (k // 3 % 2))
            y[k * step : (k + 1) * step] += (
                0.25 * np.sign(np.sin(2 * np.pi * f * t)) * np.exp(-t * 9)
            )
    if bass != "none":
        step = int(beat / 2 * SR)
        t = np.arange(step) / SR
        f = _hz(low - 24)
        for k in range(int(n / step)):
            if bass == "offbeat" and k % 2 == 0:
                continue
            note = _lowpass(_saw(f, step), 500) * np.exp(-t * 6) * 0.8
            y[k * step : (k + 1) * step] += note
    return y


def synthesise(bpm: float, bars: int, sections: list[tuple], *, seed: int, levelled: bool
               ) -> tuple[np.ndarray, list[float]]:  # fmt: skip
    """Mono audio at ``SR`` and the exact section starts (s) of one clip."""
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    bar_n = int(round(4 * beat * SR))
    parts, starts = [], []
    for drums, bass, chords, voice, gain in sections:
        starts.append(sum(len(p) for p in parts) / SR)
        prog = _PROGRESSIONS[chords]
        music = np.concatenate([_bar_audio(prog[b % len(prog)], voice=voice, bass=bass, n=bar_n,
                                           beat=beat) for b in range(bars)])  # fmt: skip
        audio = music + _drums(drums, len(music), beat, rng)
        if levelled:  # the same RMS in every section: no energy change marks the boundary
            audio *= 0.1 / (np.sqrt(np.mean(audio**2)) + 1e-12)
        else:
            audio *= gain * 0.1 / (np.sqrt(np.mean(music**2)) + 1e-12) * 0.7
        parts.append(audio)
    y = np.concatenate(parts + [np.zeros(SR)])
    y += 1e-3 * rng.standard_normal(len(y))
    return (0.5 * y / np.max(np.abs(y))).astype(np.float32), starts


def build_set(out: Path) -> list[tuple[Path, list[float], str]]:
    """Write the synthetic clips (once) and return ``(wav, section starts, what changes)``."""
    out.mkdir(parents=True, exist_ok=True)
    clips = []
    for i, (name, bpm, bars, levelled, sections) in enumerate(CLIPS):
        wav, ann = out / f"{name}.wav", out / f"{name}.json"
        if not (wav.is_file() and ann.is_file()):
            y, starts = synthesise(bpm, bars, sections, seed=i, levelled=levelled)
            sf.write(str(wav), y, SR, subtype="PCM_16")
            ann.write_text(json.dumps({"starts": starts, "duration": len(y) / SR}))
        data = json.loads(ann.read_text())
        clips.append((wav, data["starts"], name.split("_")[0]))
    return clips


# ---------------------------------------------------------------------------------- the scores
def detection(starts: list[float], duration: float, found: list[float]) -> dict[str, float]:
    """Hit rates of the ``found`` section starts against the true ``starts`` (both with 0)."""

    def intervals(bounds: list[float]) -> np.ndarray:
        b = sorted({0.0, *[x for x in bounds if 0 < x < duration]}) + [duration]
        return np.array(list(zip(b[:-1], b[1:], strict=True)))

    ref, est = intervals(starts), intervals(found)
    row = {}
    for w in WINDOWS:
        p, r, f = mir_eval.segment.detection(ref, est, window=w, trim=True)
        row.update({f"P@{w:g}s": round(p, 3), f"R@{w:g}s": round(r, 3), f"F@{w:g}s": round(f, 3)})
    return row


def score(path: Path, starts: list[float], *, cache: Path | None) -> dict:
    a = analyze_track(path, cache_dir=cache)
    found = [s.start for s in a.sections[1:]]
    return {"true": len(starts) - 1, "found": len(found),
            **detection(starts, a.duration, found),
            "boundaries": " ".join(f"{t:.1f}" for t in found)}  # fmt: skip


def evaluate_album(album: Path, *, cache: Path | None) -> list[dict]:
    rows = []
    for track in json.loads((album / "tracklist.json").read_text()):
        starts = [s["start"] for s in track["sections"]]
        rows.append({"track": track["id"], **score(album / track["src"], starts, cache=cache)})
    return rows


def plot_sections(path: Path, out: Path) -> Path:
    """Loudness and chroma of ``path`` with the analysis' section starts drawn over them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from renderer.audio.features import extract_features

    a, f = analyze_track(path, cache_dir=None), extract_features(path, cache_dir=None)
    t = np.arange(f.n_frames) / f.frame_rate
    fig, (ax1, ax2, ax3) = plt.subplots(3, 1, figsize=(14, 7), sharex=True, constrained_layout=True)
    ax1.plot(t, np.convolve(f.rms, np.ones(43) / 43, mode="same"), lw=0.8)
    ax1.set_ylabel("RMS (1 s mean)")
    ax2.plot(t, np.convolve(f.centroid, np.ones(43) / 43, mode="same"), lw=0.8, color="tab:purple")
    ax2.plot(t, np.convolve(f.percussive, np.ones(43) / 43, mode="same"), lw=0.8, color="tab:red")
    ax2.set_ylabel("centroid / percussive")
    ax3.imshow(f.chroma.T, aspect="auto", origin="lower", extent=(0, f.duration, -0.5, 11.5),
               cmap="magma", interpolation="nearest")  # fmt: skip
    ax3.set_ylabel("chroma")
    for ax in (ax1, ax2, ax3):
        for s in a.sections[1:]:
            ax.axvline(s.start, color="cyan" if ax is ax3 else "k", lw=1.2, ls="--")
    ax1.set_title(f"{path.name}: sections " + ", ".join(s.label for s in a.sections))
    out.mkdir(parents=True, exist_ok=True)
    png = out / f"{path.stem}-sections.png"
    fig.savefig(png, dpi=80)
    plt.close(fig)
    return png


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def mean_row(rows: list[dict], label: str, key: str) -> dict:
    out = {key: label, "true": sum(r["true"] for r in rows), "found": sum(r["found"] for r in rows)}
    for col in rows[0]:
        if col[:2] in ("P@", "R@", "F@"):
            out[col] = round(float(np.mean([r[col] for r in rows])), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--album", type=Path, default=Path("album"))
    parser.add_argument("--shared", type=Path, default=Path("../shared/audio"))
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="synthetic clips folder")
    parser.add_argument("--plots", type=Path, default=None, help="write section plots here")
    parser.add_argument("--skip", nargs="*", default=[], choices=["album", "synthetic", "shared"])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    report: dict[str, list] = {}
    if "album" not in args.skip and (args.album / "tracklist.json").is_file():
        rows = evaluate_album(args.album, cache=None)
        report["album"] = rows + [mean_row(rows, "mean", "track")]
        print("\n### Bundled album vs the composer's section starts\n")
        print(markdown(report["album"]))
    if "synthetic" not in args.skip:
        rows = [{"clip": wav.stem, "changes": what, **score(wav, starts, cache=None)}
                for wav, starts, what in build_set(args.out)]  # fmt: skip
        levelled = [r for r in rows if r["changes"] != "energy"]
        report["synthetic"] = rows + [mean_row(levelled, "mean, levelled", "clip"),
                                      mean_row(rows, "mean, all", "clip")]  # fmt: skip
        print("\n### Synthetic set (one change at a time; all but 'energy' levelled to one RMS)\n")
        print(markdown(report["synthetic"]))
    if "shared" not in args.skip and args.shared.is_dir():
        rows = []
        for path in sorted(args.shared.glob("*.ogg")):
            a = analyze_track(path, cache_dir=None)
            rows.append(
                {
                    "recording": path.name,
                    "duration": round(a.duration, 1),
                    "sections": " | ".join(f"{s.start:.1f} {s.label}" for s in a.sections),
                }
            )
            if args.plots:
                rows[-1]["plot"] = str(plot_sections(path, args.plots))
        report["shared"] = rows
        print("\n### Real recordings (no annotation: boundaries to judge from the plots)\n")
        print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
