"""``decoder.compile``: the generator and the learned upscaler eager against ``torch.compile``.

Decodes the model's anchors on the 16:9 canvas of a 1080p render (the latent grid of
``renderer/decode/model_meta.py``) in CPU micro-batches, and upscales those frames ×4, once
eagerly and once compiled, alternating the two for ``--rounds`` rounds so that a change of machine
load falls on both. Prints ms per frame, the speed-up and how far the compiled output is from the
eager one (8-bit levels). The compile time is printed apart: a render pays it once per process.

Usage: ``python benchmarks/compile_speed.py [--model-dir models] [--rounds 3] [--threads 2]``.
Time it with nothing else running.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/compile_speed.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from renderer.control.motion import fit_grid
from renderer.decode.compile import compiler_available
from renderer.decode.decoder import open_decoder
from renderer.decode.upscaler import upscaler_spec


def _per_frame(fn, items: list, frames: int) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / frames * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path("models"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resolution", default="1920x1080")
    args = parser.parse_args(argv)
    if not compiler_available():
        print("error: torch.compile needs a C++ compiler and Python.h here", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.resolution.split("x"))
    kw = {"backend": "torch", "provider": "cpu", "threads": args.threads}
    eager = open_decoder(args.model_dir, compile="off", **kw)
    compiled = open_decoder(args.model_dir, compile="on", **kw)
    hw = eager.latent_hw((width, height))
    latents = np.stack([fit_grid(a.latent, hw=hw) for a in eager.meta.anchors]).astype(np.float32)
    batches = [latents[i : i + 4] for i in range(0, len(latents), 4)]
    n = len(latents)

    spec = upscaler_spec(eager.meta)
    if spec is None:
        print(f"error: {args.model_dir / 'meta.json'} lists no upscaler", file=sys.stderr)
        return 2
    up_eager = spec.runner("cpu")
    up_compiled = type(spec)(spec.weights, spec.width, spec.depth, compile="on").runner("cpu")

    start = time.perf_counter()
    ref = eager.backend.run(batches[0])
    got = compiled.backend.run(batches[0])
    frames = [torch.from_numpy(eager.backend.run(b)) for b in batches]
    up_ref, up_got = up_eager(frames[0]), up_compiled(frames[0])
    print(f"compile (generator + upscaler, first calls): {time.perf_counter() - start:.1f} s")
    gen_diff = int(np.abs(ref.astype(int) - got.astype(int)).max())
    up_diff = int((up_ref.int() - up_got.int()).abs().max())

    rows = {"generator": ([], []), "upscaler": ([], [])}
    for _ in range(args.rounds):
        rows["generator"][0].append(_per_frame(eager.backend.run, batches, n))
        rows["generator"][1].append(_per_frame(compiled.backend.run, batches, n))
        rows["upscaler"][0].append(_per_frame(up_eager, frames, n))
        rows["upscaler"][1].append(_per_frame(up_compiled, frames, n))
    size = f"{frames[0].shape[2]}×{frames[0].shape[1]}"
    print(f"{n} frames at {size} → {width}×{height}, {args.threads} threads, "
          f"{args.rounds} alternating rounds (median)")  # fmt: skip
    print(f"{'stage':<10} {'eager ms':>9} {'compiled ms':>12} {'speed-up':>9} {'max diff':>9}")
    for name, (plain, fused) in rows.items():
        a, b = float(np.median(plain)), float(np.median(fused))
        diff = gen_diff if name == "generator" else up_diff
        print(f"{name:<10} {a:9.1f} {b:12.1f} {a / b:8.2f}× {diff:9d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
