"""Sharpness of the procedural training imagery, per bucket, natively rendered at two sizes.

``python benchmarks/procedural_sharpness.py [--seeds 8] [--small 256] [--large 1024]``

For each bucket of ``training.procedural`` and each seed, the same picture is rendered natively at
``--small`` and at ``--large`` (the generators draw the same structures at any size), and the
small render is also enlarged to the large size with bicubic interpolation. The table gives the
mean of ``renderer.fx.frame_stats.sharpness`` (mean |Laplacian| over the same at ¼ size) of each.

It tells what the 1080p sharpness bar (≥ 0.5, issue 9) asks of the picture: a perfectly rendered
image scores high only where it has texture at the pixel (grain, scanlines, noise); smooth shapes
with crisp edges score low at any resolution.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer.fx.frame_stats import frame_stats  # noqa: E402
from training.procedural import BUCKETS, generate  # noqa: E402


def bucket_row(bucket: str, seeds: range, small: int, large: int) -> tuple[float, float, float]:
    """Mean sharpness of (native small, native large, small enlarged to large by bicubic)."""
    rows = []
    for seed in seeds:
        lo = generate(bucket, seed, size=small)
        hi = generate(bucket, seed, size=large)
        up = cv2.resize(lo, (large, large), interpolation=cv2.INTER_CUBIC)
        rows.append(tuple(frame_stats(image).sharpness for image in (lo, hi, up)))
    return tuple(float(v) for v in np.mean(rows, axis=0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=8, help="pictures per bucket (default 8)")
    ap.add_argument("--small", type=int, default=256, help="training size (default 256)")
    ap.add_argument("--large", type=int, default=1024, help="output-like size (default 1024)")
    ap.add_argument(
        "--first-seed", type=int, default=100_000, help="default 100000 (not a training seed)"
    )
    args = ap.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    t0 = time.perf_counter()
    print(
        f"| bucket | native {args.small}² | native {args.large}² | {args.small}² ×"
        f"{args.large // args.small} bicubic |"
    )
    print("|---|---|---|---|")
    rows = []
    for bucket in BUCKETS:
        row = bucket_row(bucket, seeds, args.small, args.large)
        rows.append(row)
        print(f"| {bucket} | " + " | ".join(f"{v:.2f}" for v in row) + " |", flush=True)
    print("| all | " + " | ".join(f"{v:.2f}" for v in np.mean(rows, axis=0)) + " |")
    print(
        f"{args.seeds} seeds per bucket from {args.first_seed}, {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
