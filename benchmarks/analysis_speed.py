"""Speed of features + full analysis for a 5-minute track (cold process and warm), 2-core CPU.

The 5-minute input is the bundled album's tracks concatenated (looped to 300 s), written to
``cache/bench/five_minutes.wav``. "cold" runs in a fresh Python process (imports and the numba JIT
of librosa included; numba's on-disk cache makes later processes faster), "warm" repeats the work
in the same process (the figure for every track after the first in an album render).

Usage: ``python benchmarks/analysis_speed.py [--seconds 300] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def make_input(seconds: float, out: Path) -> Path:
    from renderer.audio_features import load_audio

    tracks = json.loads((ROOT / "album" / "tracklist.json").read_text())
    parts = [load_audio(ROOT / "album" / t["src"], sr=44100)[0] for t in tracks]
    y = np.concatenate(parts, axis=1)
    reps = int(np.ceil(seconds * 44100 / y.shape[1]))
    y = np.tile(y, reps)[:, : int(seconds * 44100)]
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), y.T, 44100)
    return out


def run_once(path: Path) -> dict:
    from renderer.analysis import analyze_track
    from renderer.audio_features import extract_features

    t0 = time.perf_counter()
    extract_features(path, cache_dir=None)
    t1 = time.perf_counter()
    analyze_track(path, cache_dir=None)
    t2 = time.perf_counter()
    return {"features_s": t1 - t0, "analysis_s": t2 - t1, "total_s": t2 - t0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_once(args.child)))
        return 0
    path = make_input(args.seconds, ROOT / "cache" / "bench" / "five_minutes.wav")
    cold = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--child", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    warm = [run_once(path) for _ in range(args.repeats)]
    med = {k: float(np.median([w[k] for w in warm])) for k in warm[0]}
    print(
        f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores"
    )
    print(f"input: {args.seconds:.0f} s of audio ({path})")
    print(f"{'':8}{'features':>10}{'analysis':>10}{'total':>10}")
    print(f"{'cold':8}{cold['features_s']:10.2f}{cold['analysis_s']:10.2f}{cold['total_s']:10.2f}")
    print(
        f"{'warm':8}{med['features_s']:10.2f}{med['analysis_s']:10.2f}{med['total_s']:10.2f}  (median of {args.repeats})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
