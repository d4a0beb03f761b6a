"""Accuracy of the music analysis against ground truth, with mir_eval metrics.

Ground truth:
- the bundled album (``album/tracklist.json``, exact because the composer wrote it): tempo within
  2 %, beat F-measure against the grid ``first_beat + k × 60/bpm``, key exact (plus the MIREX
  weighted key score), section-boundary F-measure at ±3 s against the tracklist markers;
- recordings whose licence text states a fact: ``../shared/audio/brahms-hungarian-dance-5`` is
  titled "in F sharp minor" (key only).

Usage: ``python benchmarks/analysis_accuracy.py [--album album] [--shared ../shared/audio] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import mir_eval
import numpy as np

from renderer.analysis import analyze_track

SHARED_KEYS = {"brahms-hungarian-dance-5.ogg": "F#m"}


def mirex_key(name: str) -> str:
    """``"F#m" → "F# minor"``; ``"Eb" → "Eb major"`` (mir_eval's key format)."""
    return f"{name[:-1]} minor" if name.endswith("m") else f"{name} major"


def evaluate_album(album: Path, *, cache: Path | None) -> list[dict]:
    rows = []
    for track in json.loads((album / "tracklist.json").read_text()):
        audio = album / track["src"]
        result = analyze_track(audio, cache_dir=cache)
        period = 60.0 / track["bpm"]
        first = float(track.get("first_beat", 0.0))
        truth_beats = np.arange(first, result.duration - 0.01, period)
        est_beats = mir_eval.beat.trim_beats(result.beats)
        beat_f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(truth_beats), est_beats)
        downbeat_truth = truth_beats[::4]
        downbeat_f = mir_eval.beat.f_measure(
            mir_eval.beat.trim_beats(downbeat_truth), mir_eval.beat.trim_beats(result.downbeats)
        )
        bounds = [0.0, *track.get("markers", []), result.duration]
        ref = np.array(list(zip(bounds[:-1], bounds[1:], strict=True)))
        est = np.array([(s.start, s.end) for s in result.sections])
        p, r, f = mir_eval.segment.detection(ref, est, window=3.0, trim=True)
        rows.append(
            {
                "track": track["id"],
                "bpm": track["bpm"],
                "tempo": round(result.tempo, 2),
                "tempo_ok": abs(result.tempo - track["bpm"]) <= 0.02 * track["bpm"],
                "beat_f": round(float(beat_f), 3),
                "downbeat_f": round(float(downbeat_f), 3),
                "key_true": track["key"],
                "key": result.key,
                "key_ok": result.key == track["key"],
                "key_weighted": mir_eval.key.weighted_score(
                    mirex_key(track["key"]), mirex_key(result.key)
                ),
                "section_f3": round(float(f), 3),
                "section_p3": round(float(p), 3),
                "section_r3": round(float(r), 3),
            }
        )
    return rows


def evaluate_shared(shared: Path, *, cache: Path | None) -> list[dict]:
    rows = []
    for name in sorted(p.name for p in shared.glob("*.ogg")):
        result = analyze_track(shared / name, cache_dir=cache)
        truth = SHARED_KEYS.get(name)
        rows.append(
            {
                "track": name,
                "tempo": round(result.tempo, 2),
                "key": result.key,
                "key_confidence": result.key_confidence,
                "key_true": truth or "(not stated)",
                "key_ok": (result.key == truth) if truth else None,
                "key_weighted": mir_eval.key.weighted_score(mirex_key(truth), mirex_key(result.key))
                if truth
                else None,
            }
        )
    return rows


def print_album(console, album_rows: list[dict], mean: dict[str, float]) -> None:
    """Print the album table with a mean row; fills ``mean`` with the averaged metrics."""
    from rich.table import Table

    table = Table(title="bundled album vs tracklist.json")
    for col in ("track", "bpm", "tempo", "tempo_ok", "beat_f", "downbeat_f", "key_true", "key",
                "key_weighted", "section_f3"):  # fmt: skip
        table.add_column(col)
    for row in album_rows:
        table.add_row(*(str(row[c]) for c in [col.header for col in table.columns]))
    mean.update(
        {
            k: float(np.mean([r[k] for r in album_rows]))
            for k in ("tempo_ok", "beat_f", "downbeat_f", "key_ok", "key_weighted", "section_f3")
        }
    )
    table.add_row("mean", "", "", f"{mean['tempo_ok']:.2f}", f"{mean['beat_f']:.3f}",
                  f"{mean['downbeat_f']:.3f}", "", f"{mean['key_ok']:.2f}",
                  f"{mean['key_weighted']:.2f}", f"{mean['section_f3']:.3f}")  # fmt: skip
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--album", type=Path, default=Path("album"))
    parser.add_argument("--shared", type=Path, default=Path("../shared/audio"))
    parser.add_argument("--cache", type=Path, default=None, help="analysis cache (default: none)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)  # wide enough for every column, also when piped
    mean: dict[str, float] = {}
    album_rows = []
    if (args.album / "tracklist.json").is_file():
        album_rows = evaluate_album(args.album, cache=args.cache)
    else:
        console.print(f"[yellow]{args.album / 'tracklist.json'} not found: album skipped[/yellow]")
    if album_rows:
        print_album(console, album_rows, mean)
    shared_rows = evaluate_shared(args.shared, cache=args.cache) if args.shared.is_dir() else []
    if shared_rows:
        table = Table(title="recordings in shared/audio (key where the licence states it)")
        for col in (
            "track",
            "tempo",
            "key",
            "key_confidence",
            "key_true",
            "key_ok",
            "key_weighted",
        ):
            table.add_column(col)
        for row in shared_rows:
            table.add_row(*(str(row[c.header]) for c in table.columns))
        console.print(table)
    if args.json:
        args.json.write_text(
            json.dumps({"album": album_rows, "shared": shared_rows, "mean": mean}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
