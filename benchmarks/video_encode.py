"""x264 presets at the YouTube profile's bitrate: encode speed and how close the result stays to
its source (issue 9: "no slower than it needs to be").

The default album encodes every 1080p frame with x264 ``veryfast`` at YouTube's recommended
bitrate, beside the decoder on the same cores. This script re-encodes the first ``--seconds`` of a
rendered video (a track of a finished run: real frames, grain included) with each preset through
the renderer's own :class:`~renderer.encode.frame_writer.FrameWriter`, and prints per preset: the
wall time and the encoder's CPU time per frame, and SSIM / PSNR (FFmpeg's ``ssim`` and ``psnr``
filters, all planes) of the encode against the source frames.

Usage: ``python benchmarks/video_encode.py renders/<run>/opening.mp4 [--seconds 5]
[--presets veryfast,superfast] [--repeat 2]``. Time it with nothing else running.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/video_encode.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.frame_writer import FrameWriter
from renderer.encode.media import decode_video, probe_media

BATCH = 8  # frames per write, as the renderer's decoder batches


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def encode(frames, path: Path, *, fps: float, preset: str) -> tuple[float, float]:
    """Wall and encoder CPU seconds for writing ``frames`` with the YouTube profile."""
    size = (frames.shape[2], frames.shape[1])
    cpu, start = children_cpu(), time.perf_counter()
    with FrameWriter(path, fps=fps, size=size, profile="youtube", segment=False,
                     preset=preset) as writer:  # fmt: skip
        for i in range(0, len(frames), BATCH):
            writer.write(frames[i : i + BATCH])
    return time.perf_counter() - start, children_cpu() - cpu


def fidelity(encoded: Path, source: Path, n: int) -> dict[str, float]:
    """SSIM ("All") and PSNR ("average", dB) of ``encoded`` against the first ``n`` frames of
    ``source``, from FFmpeg's filters."""
    # frame k against frame k: both on one time base with pts k/fps (MP4 and Matroska time
    # bases differ, and pairing by rounded timestamps then skips a frame now and then)
    first = f"trim=end_frame={n},settb=AVTB,setpts=N/FRAME_RATE/TB"
    graph = (f"[1:v]{first},split[r1][r2];[0:v]{first},split[a][b];"
             "[a][r1]ssim=shortest=1;[b][r2]psnr=shortest=1")  # fmt: skip
    argv = [find_ffmpeg(), "-hide_banner", "-nostdin", "-i", str(encoded), "-i", str(source),
            "-lavfi", graph, "-f", "null", "-"]  # fmt: skip
    log = subprocess.run(argv, capture_output=True, text=True, check=True).stderr
    ssim = re.search(r"SSIM .*All:([0-9.]+)", log)
    psnr = re.search(r"PSNR .*average:([0-9.inf]+)", log)
    if not (ssim and psnr):
        raise RuntimeError(f"{encoded}: FFmpeg printed no SSIM/PSNR summary")
    return {"ssim": float(ssim.group(1)), "psnr_db": float(psnr.group(1))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, help="a rendered video (e.g. a run's track)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length to encode (5)")
    parser.add_argument("--presets", default="veryfast,superfast,ultrafast")
    parser.add_argument("--repeat", type=int, default=2, help="timed encodes per preset (2)")
    args = parser.parse_args(argv)
    if not args.video.is_file():
        parser.error(f"no such video: {args.video}")
    info = probe_media(args.video)
    fps, size = float(info["fps"]), (int(info["width"]), int(info["height"]))
    n = max(1, round(args.seconds * fps))
    frames = decode_video(args.video, vf=f"trim=end_frame={n},format=rgb24", size=size,
                          channels=3, passthrough=True)  # fmt: skip
    n = len(frames)
    print(f"{args.video.name}: {n} frames {size[0]}×{size[1]} at {fps:g} fps, x264 at the "
          "YouTube profile's bitrate")  # fmt: skip
    print(
        f"{'preset':10s} {'wall ms/frame':>14s} {'cpu ms/frame':>13s} {'SSIM':>7s} {'PSNR dB':>8s}"
    )
    presets = args.presets.split(",")
    walls: dict[str, list[float]] = {p: [] for p in presets}
    cpus: dict[str, list[float]] = {p: [] for p in presets}
    with tempfile.TemporaryDirectory(prefix="nts-encode-") as tmp:
        for _ in range(args.repeat):  # alternating presets, so drift hits them alike
            for preset in presets:
                wall, cpu = encode(frames, Path(tmp) / f"{preset}.mp4", fps=fps, preset=preset)
                walls[preset].append(wall)
                cpus[preset].append(cpu)
        for preset in presets:
            quality = fidelity(Path(tmp) / f"{preset}.mp4", args.video, n)
            wall, cpu = min(walls[preset]) / n * 1e3, min(cpus[preset]) / n * 1e3
            print(f"{preset:10s} {wall:14.1f} {cpu:13.1f} {quality['ssim']:7.4f} "
                  f"{quality['psnr_db']:8.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
