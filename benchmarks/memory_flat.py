"""Peak memory of a whole low-resolution render against track length (issue 10, item 14).

Generates a 1-minute and a 20-minute track (seeded drums, bass and a chord loop, 44.1 kHz stereo
FLAC, written block by block), renders each in a fresh child process with
``renderer/render_track.py`` at 128×72, 24 fps (the schema's lowest), draft quality, and reads the
child's peak RSS from ``os.wait4`` (``ru_maxrss``: the largest resident set of the render process
itself, FFmpeg children excluded since they are separate processes). Prints both peaks, their
ratio (the bar: ≤ 1.2) and the machine.

Usage: ``nice -n 5 python benchmarks/memory_flat.py [--short 60] [--long 1200] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SR = 44100
BPM = 120.0


def synth_block(start: int, count: int, *, sr: int = SR) -> np.ndarray:
    """Samples ``[start, start + count)`` of an endless seeded groove, stereo float32 ``[count, 2]``.

    Kick on every beat, snare (noise) on 2 and 4, a bass note and a minor/major triad per bar
    (Am F C G): a pure function of the sample index, so any block can be made alone.
    """
    n = np.arange(start, start + count)
    t = n / sr
    beat = 60.0 / BPM
    phase = t % beat  # seconds since the last beat
    kick = np.sin(2 * np.pi * (50 + 90 * np.exp(-phase * 35)) * phase) * np.exp(-phase * 18)
    beat_no = np.floor(t / beat).astype(np.int64)
    rng = np.random.default_rng(start)  # noise: seeded per block → the same file every run
    snare = (beat_no % 2 == 1) * rng.standard_normal(count) * np.exp(-phase * 40) * 0.5
    bar_no = beat_no // 4
    roots = np.array([57, 53, 48, 55])[bar_no % 4]
    third = np.where(bar_no % 4 == 0, 3, 4)  # A minor, then F, C, G major
    chord = np.zeros(count)
    for midi in (roots, roots + third, roots + 7):
        chord += 0.06 * np.sin(2 * np.pi * 440 * 2 ** ((midi - 69) / 12) * t)
    bass = 0.15 * np.sin(2 * np.pi * 440 * 2 ** ((roots - 12 - 69) / 12) * t)
    y = 0.5 * kick + 0.25 * snare + chord + bass
    return np.stack([y, 0.9 * y], axis=1).astype(np.float32)


def write_track(path: Path, *, seconds: float, block: int = 1 << 18) -> Path:
    """Write ``seconds`` of the groove to ``path`` (FLAC, 16 bit) block by block."""
    import soundfile as sf

    total = int(seconds * SR)
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=2, subtype="PCM_16") as fh:
        for start in range(0, total, block):
            fh.write(synth_block(start, min(block, total - start)))
    return path


def make_project(root: Path, *, seconds: float) -> Path:
    """``root/album/song.flac`` + tracklist + a 128×72 draft ``render.yaml``; returns the config."""
    album = root / "album"
    album.mkdir(parents=True)
    write_track(album / "song.flac", seconds=seconds)
    tracklist = [{"id": "song", "src": "song.flac", "title": "Song", "bpm": BPM}]
    (album / "tracklist.json").write_text(json.dumps(tracklist))
    config = root / "render.yaml"
    config.write_text(
        "frame_rate: 24\nresolution: [128, 72]\nseed: 1\n"
        f"model: {{dir: {ROOT / 'models'}}}\n"
        "album: {root: album, tracklist: album/tracklist.json}\n"
        "quality: draft\nrender: {chunk_seconds: 10, previews: false}\n"
    )
    return config


def peak_rss_of_render(config: Path) -> tuple[float, float]:
    """Render the config's track in a child process: ``(peak RSS in MB, wall seconds)``."""
    argv = [sys.executable, str(ROOT / "renderer" / "render_track.py"), "--config", str(config),
            "--track", "song", "--quality", "draft", "--fps", "24", "--resolution", "128x72"]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=config.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = output.decode(errors="replace")[-3000:]
        raise SystemExit(f"render of {config} failed (exit {proc.returncode}):\n{tail}")
    return usage.ru_maxrss / 1024.0, wall  # Linux reports KiB


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=60.0, help="seconds of the short track")
    parser.add_argument("--long", type=float, default=1200.0, help="seconds of the long track")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temp folder)")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="nts-memflat-"))
    results = {}
    try:
        for label, seconds in (("short", args.short), ("long", args.long)):
            config = make_project(work / label, seconds=seconds)
            rss, wall = peak_rss_of_render(config)
            results[label] = {"seconds": seconds, "peak_rss_mb": round(rss, 1),
                              "wall_s": round(wall, 1)}  # fmt: skip
            print(f"{seconds / 60:5.1f}-min track: peak RSS {rss:7.1f} MB  ({wall:.0f} s wall)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    ratio = results["long"]["peak_rss_mb"] / results["short"]["peak_rss_mb"]
    print(f"ratio long/short: {ratio:.3f}  (bar: <= 1.2)")
    print(f"machine: {machine()}")
    print(json.dumps({**results, "ratio": round(ratio, 3), "machine": machine()}))
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
