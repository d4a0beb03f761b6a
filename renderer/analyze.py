"""``python -m renderer.analyze AUDIO...``: analysis.json + PNG plots + offline HTML per track."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from renderer.errors import NoiseToSignalError


def analyze_to_dir(audio: Path, out_dir: Path, *, cache_root: Path = Path("cache"),
                   beat_tracker: str = "ours") -> dict:  # fmt: skip
    """Analyse ``audio`` and write ``analysis.json``, ``timeline.png``, ``chords.png``, ``tempo.png``, ``report.html``."""
    from renderer.analysis import analyze_track
    from renderer.analysis.report import write_html, write_plots
    from renderer.audio.features import extract_features

    out_dir.mkdir(parents=True, exist_ok=True)
    features = extract_features(audio, cache_dir=cache_root / "features")
    analysis = analyze_track(audio, cache_dir=cache_root / "analysis", beat_tracker=beat_tracker)
    (out_dir / "analysis.json").write_text(json.dumps(analysis.to_dict(), indent=1))
    write_plots(analysis, features, out_dir)
    write_html(analysis, features, out_dir / "report.html")
    return analysis.to_dict()


def main(argv: list[str] | None = None) -> int:
    from rich.table import Table

    from renderer.console import add_manners, make_console

    parser = argparse.ArgumentParser(prog="nts-analyze", description=__doc__)
    parser.add_argument("audio", nargs="+", type=Path, help="audio files (wav/mp3/ogg/flac)")
    parser.add_argument("-o", "--output", dest="out", type=Path, default=Path("renders/analysis"),
                        metavar="DIR",
                        help="output root; one folder per track (default: renders/analysis)")  # fmt: skip
    parser.add_argument("--out", dest="out", type=Path, help=argparse.SUPPRESS)  # the old name
    parser.add_argument("--cache", type=Path, default=Path("cache"), help="cache root")
    parser.add_argument("--beat-tracker", choices=["ours", "madmom"], default="ours",
                        help="ours (default) or madmom (the optional [madmom] extra; its model "
                        "files are CC BY-NC-SA, non-commercial)")  # fmt: skip
    add_manners(parser, quiet=False)
    args = parser.parse_args(argv)
    console = make_console()
    table = Table(title="analysis")
    for column in ("track", "tempo", "key", "beats", "sections", "time", "report"):
        table.add_column(column)
    failures = 0
    for audio in args.audio:
        start = time.perf_counter()
        out_dir = args.out / audio.stem
        try:
            with console.status(f"analysing {audio.name}"):
                result = analyze_to_dir(audio, out_dir, cache_root=args.cache,
                                        beat_tracker=args.beat_tracker)  # fmt: skip
        except NoiseToSignalError as exc:
            failures += 1
            console.print(f"[red]error[/red] {exc}")
            continue
        table.add_row(audio.name, f"{result['tempo']:.1f}", f"{result['key']} ({result['key_confidence']:.2f})",
                      str(len(result["beats"])), str(len(result["sections"])),
                      f"{time.perf_counter() - start:.1f} s", str(out_dir / "report.html"))  # fmt: skip
    console.print(table)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
