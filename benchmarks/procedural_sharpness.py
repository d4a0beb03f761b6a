"""Sharpness of the procedural training imagery, per bucket, natively rendered at two sizes.

``python benchmarks/procedural_sharpness.py [--seeds 8] [--small 256] [--large 1024]``

For each bucket of ``training.procedural`` and each seed, the same picture is rendered natively at
``--small`` and at ``--large`` (the generators draw the same structures at any size), and the
small render is also enlarged to the large size with bicubic interpolation. The table gives the
mean of ``renderer.fx.frame_stats.sharpness`` (mean |Laplacian| over the same at ¼ size) of each,
and beside it the mean ``edge_width`` (pixels across the strongest edges: crisp shapes score low at
any size, an enlargement by its factor), which pattern at the pixel cannot fake.

It tells what the 1080p sharpness bar (≥ 0.5, issue 9) asks of the picture: a perfectly rendered
image scores high only where it has texture at the pixel (grain, scanlines, noise); smooth shapes
with crisp edges score low at any resolution.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer.fx.frame_stats import edge_width, grey_of, sharpness  # noqa: E402
from training.procedural import BUCKETS, generate  # noqa: E402


def bucket_rows(bucket: str, seeds: range, small: int, large: int) -> tuple[np.ndarray, ...]:
    """Mean sharpness and mean edge width (seeds without a strong edge left out) of (native small,
    native large, small enlarged to large by bicubic)."""
    sharp, edges = [], []
    for seed in seeds:
        lo = generate(bucket, seed, size=small)
        hi = generate(bucket, seed, size=large)
        up = cv2.resize(lo, (large, large), interpolation=cv2.INTER_CUBIC)
        greys = [grey_of(image) for image in (lo, hi, up)]
        sharp.append([sharpness(g) for g in greys])
        edges.append([edge_width(g) for g in greys])
    return np.mean(sharp, axis=0), nan_mean(np.array(edges))


def nan_mean(rows: np.ndarray) -> np.ndarray:
    """Column means without the NaNs; a column of NaNs (no strong edge anywhere) stays NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "mean of empty slice"
        return np.nanmean(rows, axis=0)


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
    columns = (f"native {args.small}²", f"native {args.large}²",
               f"{args.small}² ×{args.large // args.small} bicubic")  # fmt: skip
    print("| bucket | " + " | ".join(f"sharpness, {c}" for c in columns) + " | "
          + " | ".join(f"edge px, {c}" for c in columns) + " |")  # fmt: skip
    print("|---" * 7 + "|")
    rows = []
    for bucket in BUCKETS:
        row = np.concatenate(bucket_rows(bucket, seeds, args.small, args.large))
        rows.append(row)
        print(f"| {bucket} | " + " | ".join(f"{v:.2f}" for v in row) + " |", flush=True)
    print("| all | " + " | ".join(f"{v:.2f}" for v in nan_mean(np.array(rows))) + " |")
    print(
        f"{args.seeds} seeds per bucket from {args.first_seed}, {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
