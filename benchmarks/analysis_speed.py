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
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def synthesise(seconds: float, sr: int = 44100) -> np.ndarray:
    """A seeded stereo stand-in when the album is absent: kicks, hats and a chord loop, 124 bpm."""
    rng = np.random.default_rng(7)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    period = 60.0 / 124.0
    kick_t = np.arange(int(0.15 * sr)) / sr
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-kick_t * 30)) * kick_t) * np.exp(-kick_t * 20)
    hat = rng.standard_normal(int(0.03 * sr)) * np.exp(-np.arange(int(0.03 * sr)) / (0.005 * sr))
    for b in np.arange(0.0, seconds - 0.2, period / 2):
        i = int(b * sr)
        src = kick if round(b / period * 2) % 2 == 0 else 0.2 * hat
        y[i : i + len(src)] += src[: n - i]
    roots = [57, 53, 48, 55]  # Am F C G, one bar each
    bar = 4 * period
    for k, start in enumerate(np.arange(0.0, seconds, bar)):
        sl = slice(int(start * sr), min(n, int((start + bar) * sr)))
        root = roots[k % 4]
        third = 3 if k % 4 == 0 else 4
        for m in (root, root + third, root + 7):
            y[sl] += 0.08 * np.sin(2 * np.pi * 440 * 2 ** ((m - 69) / 12) * t[sl])
    return np.stack([y, y]).astype(np.float32)


def make_input(seconds: float, out: Path) -> Path:
    from renderer.audio.decode import load_audio

    tracklist = ROOT / "album" / "tracklist.json"
    if tracklist.exists():
        tracks = json.loads(tracklist.read_text())
        parts = [load_audio(ROOT / "album" / t["src"], sr=44100)[0] for t in tracks]
        y = np.concatenate(parts, axis=1)
    else:
        print("album/tracklist.json not found: timing a synthesised track instead")
        y = synthesise(seconds)
    reps = int(np.ceil(seconds * 44100 / y.shape[1]))
    y = np.tile(y, reps)[:, : int(seconds * 44100)]
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(out), y.T, 44100)
    return out


def run_once(path: Path) -> dict:
    import renderer.audio.spectral as spectral
    from renderer.analysis import analyze_track
    from renderer.audio.features import extract_features

    spectral._LAST.clear()  # the memoised timeline: time the decode and transforms every repeat
    c0, t0 = time.process_time(), time.perf_counter()
    extract_features(path, cache_dir=None)
    t1 = time.perf_counter()
    analyze_track(path, cache_dir=None)
    c2, t2 = time.process_time(), time.perf_counter()
    return {"features_s": t1 - t0, "analysis_s": t2 - t1, "total_s": t2 - t0, "cpu_s": c2 - c0}


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
    start = time.perf_counter()
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
    cold_process = time.perf_counter() - start  # includes interpreter start and imports
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cold_cpu = usage.ru_utime + usage.ru_stime
    warm = [run_once(path) for _ in range(args.repeats)]
    med = {k: float(np.median([w[k] for w in warm])) for k in warm[0]}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"input: {args.seconds:.0f} s of audio ({path})")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} (other work slows every figure)")
    print(f"{'':8}{'features':>10}{'analysis':>10}{'total':>10}{'cpu':>10}")
    for name, row in (("cold", cold), ("warm", med)):
        print(
            f"{name:8}{row['features_s']:10.2f}{row['analysis_s']:10.2f}{row['total_s']:10.2f}"
            f"{row['cpu_s']:10.2f}"
        )
    print(f"warm = median of {args.repeats}; cpu = process CPU seconds (all threads)")
    print(
        f"cold process incl. interpreter start and imports: {cold_process:.2f} s wall, "
        f"{cold_cpu:.2f} s CPU (target <= 10 s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
