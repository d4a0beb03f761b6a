"""Train the learned ×4 upscaler (``renderer/decode/upscaler.py``) and add it to a model folder.

The generator decodes 272×480 frames for 1080p; enlarged 4× by bicubic interpolation, every
edge spreads over 4-5 output pixels (issue 9). The procedural generators render any size
natively, so the training pairs are exact: an image rendered at ``--size`` (1024²) is the
target, its area average at ¼ (256², the scale of the generator's training images) the input.
The loss is L1 on the pixels: adversarial variants drew a regular 4-pixel texture in flat
regions (a deterministic network sees the same input under every output pixel there), which the
issue rules out, so the network only redraws edges and gradients.

Augmentation: colour-channel permutations, flips and quarter turns, a random gamma (the frames
arrive graded), a light blur of some inputs (the generator is not quite as sharp as an area
average). The images are cached as PNG under ``--data``; a holdout (every 20th image) is scored
at the end: L1, sharpness and edge width of the network's output beside bicubic and the native
image. The state is checkpointed every ``--checkpoint-every`` steps and ``--resume`` continues
it. The weights go to ``<models>/upscaler.safetensors`` and ``meta.json`` lists them.

    python training/train_upscaler.py --models models                 # ~500 images, 6000 steps
    python training/train_upscaler.py --models models --resume        # after an interruption
    python training/train_upscaler.py --models models --stop-after 3000   # in parts
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer.decode.model_meta import sha256_file  # noqa: E402
from renderer.decode.upscaler import FACTOR, build_net, receptive_pad  # noqa: E402
from renderer.files import atomic_path, write_text_atomic  # noqa: E402
from renderer.fx.frame_stats import edge_width, sharpness  # noqa: E402
from training.procedural import BUCKETS, generate  # noqa: E402

log = logging.getLogger("train_upscaler")

SEED_BASE = 0x55_0000_00  # image seeds of this set; the dataset's come from the manifest
HOLDOUT_EVERY = 20
WEIGHTS = "upscaler.safetensors"


def image_paths(data: Path, count: int, size: int) -> list[Path]:
    """Render (once; cached as PNG) ``count`` procedural images of ``size``², buckets in turn."""
    data.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        bucket = BUCKETS[i % len(BUCKETS)]
        path = data / f"{size}-{i:05d}-{bucket}.png"
        if not path.exists():
            rgb = generate(bucket, SEED_BASE + i, size=size)
            _, png = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
            with atomic_path(path) as tmp:
                tmp.write_bytes(png.tobytes())
        paths.append(path)
    return paths


def load_pairs(paths: list[Path]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(low, high)`` uint8 RGB pairs: each image and its area average at 1/FACTOR."""
    pairs = []
    for path in paths:
        high = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if high is None:
            raise ValueError(f"{path}: not a readable image (delete it to render it again)")
        high = np.ascontiguousarray(high[..., ::-1])
        h, w = high.shape[:2]
        low = cv2.resize(high, (w // FACTOR, h // FACTOR), interpolation=cv2.INTER_AREA)
        pairs.append((low, high))
    return pairs


class Batches:
    """Random augmented patches: inputs ``[B, 3, P + 2p, P + 2p]``, targets ``[B, 3, 4P, 4P]``."""

    def __init__(self, pairs, *, patch: int, pad: int, seed: int) -> None:
        self.pairs, self.patch, self.pad = pairs, patch, pad
        self.rng = np.random.default_rng(seed)

    def one(self) -> tuple[np.ndarray, np.ndarray]:
        rng, p, n = self.rng, self.pad, self.patch
        low, high = self.pairs[rng.integers(len(self.pairs))]
        i = rng.integers(p, low.shape[0] - n - p + 1)
        j = rng.integers(p, low.shape[1] - n - p + 1)
        x = low[i - p : i + n + p, j - p : j + n + p].astype(np.float32) / 255.0
        y = high[FACTOR * i : FACTOR * (i + n), FACTOR * j : FACTOR * (j + n)]
        y = y.astype(np.float32) / 255.0
        perm = rng.permutation(3)
        x, y = x[..., perm], y[..., perm]
        if rng.random() < 0.5:
            x, y = x[:, ::-1], y[:, ::-1]
        turns = int(rng.integers(4))
        x, y = np.rot90(x, turns), np.rot90(y, turns)
        gamma = rng.uniform(0.6, 1.6)
        x, y = x**gamma, y**gamma
        if rng.random() < 0.3:
            x = cv2.GaussianBlur(np.ascontiguousarray(x), (0, 0), rng.uniform(0.2, 0.6))
        return np.ascontiguousarray(x), np.ascontiguousarray(y)

    def __call__(self, size: int):
        import torch

        xs, ys = zip(*(self.one() for _ in range(size)), strict=True)
        return (torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2),
                torch.from_numpy(np.stack(ys)).permute(0, 3, 1, 2))  # fmt: skip


def score(net, pairs) -> dict:
    """Holdout figures: mean L1 (8-bit levels), sharpness and median edge width of the grey
    image, for the network, bicubic and the native image."""
    import torch

    from renderer.decode.upscaler import FastUpscaler

    fast = FastUpscaler(net)
    rows: dict[str, dict[str, list]] = {k: {"l1": [], "sharpness": [], "edge_px": []}
                                         for k in ("learned", "bicubic", "native")}  # fmt: skip
    for low, high in pairs:
        h, w = high.shape[:2]
        with torch.inference_mode():
            images = {"learned": fast.frame(low), "native": high,
                      "bicubic": cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)}  # fmt: skip
        for name, image in images.items():
            grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            rows[name]["l1"].append(float(np.abs(image.astype(np.float32) - high).mean()))
            rows[name]["sharpness"].append(sharpness(grey))
            rows[name]["edge_px"].append(edge_width(grey))
    return {name: {k: round(float(np.nanmedian(v) if k == "edge_px" else np.mean(v)), 3)
                   for k, v in cols.items()} for name, cols in rows.items()}  # fmt: skip


def train(args) -> dict:
    import torch

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = image_paths(args.data, args.images, args.size)
    pairs = load_pairs(paths)
    holdout = pairs[::HOLDOUT_EVERY]
    train_pairs = [pair for k, pair in enumerate(pairs) if k % HOLDOUT_EVERY] or pairs
    net = build_net(args.width, args.depth)
    pad = receptive_pad(args.depth)
    batches = Batches(train_pairs, patch=args.patch, pad=pad, seed=args.seed)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    state_path = args.out / "last.pt"
    step, seconds = 0, 0.0
    if args.resume and state_path.exists():
        state = torch.load(state_path, weights_only=False)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        batches.rng.bit_generator.state = state["rng"]
        step, seconds = state["step"], state["seconds"]
        log.info("resumed at step %d", step)
    start = time.perf_counter() - seconds
    stop = min(args.steps, args.stop_after or args.steps)
    while step < stop:
        for group in opt.param_groups:  # cosine decay to 0 over --steps
            group["lr"] = args.lr * 0.5 * (1.0 + math.cos(math.pi * step / args.steps))
        x, y = batches(args.batch)
        loss = (net(x) - y).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % args.log_every == 0 or step == args.steps:
            rate = step / max(time.perf_counter() - start, 1e-9)
            log.info("step %d/%d  L1 %.4f  %.1f it/s  ETA %.0f s", step, args.steps,
                     loss.item(), rate, (args.steps - step) / max(rate, 1e-9))  # fmt: skip
        if step % args.checkpoint_every == 0 or step == stop:
            state = {"net": net.state_dict(), "opt": opt.state_dict(), "step": step,
                     "rng": batches.rng.bit_generator.state,
                     "seconds": time.perf_counter() - start}  # fmt: skip
            with atomic_path(state_path) as tmp:
                torch.save(state, tmp)
    net.eval()
    if step < args.steps:
        return {"net": None, "steps": step}
    return {"net": net, "seconds": round(time.perf_counter() - start, 1), "steps": step,
            "holdout": score(net, holdout), "images": len(pairs),
            "holdout_images": len(holdout)}  # fmt: skip


def install(net, models: Path, *, width: int, depth: int, info: dict) -> dict:
    """Write ``<models>/upscaler.safetensors`` and list it in ``meta.json`` (which must exist:
    the upscaler belongs to a model folder)."""
    from safetensors.torch import save_file

    meta_path = models / "meta.json"
    meta = json.loads(meta_path.read_text())
    weights = models / WEIGHTS
    with atomic_path(weights) as tmp:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
        tmp.chmod(0o644)  # safetensors writes 0600; the artefact is meant to be shared
    meta["artefacts"]["upscaler"] = {"path": WEIGHTS, "sha256": sha256_file(weights),
                                     "width": width, "depth": depth, "factor": FACTOR,
                                     "training": info}  # fmt: skip
    write_text_atomic(meta_path, json.dumps(meta))
    return meta["artefacts"]["upscaler"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=Path("models"),
                        help="model folder that gets the upscaler (its meta.json must exist)")  # fmt: skip
    parser.add_argument("--data", type=Path, default=Path("training/outputs/upscaler/images"))
    parser.add_argument("--out", type=Path, default=Path("training/outputs/upscaler"),
                        help="checkpoint folder")  # fmt: skip
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--size", type=int, default=1024, help="side of the target images")
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=32, help="input patch side (decode pixels)")
    parser.add_argument("--width", type=int, default=16, help="channels of the hidden layers")
    parser.add_argument("--depth", type=int, default=2, help="hidden 3×3 layers")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--log-every", type=int, default=200)
    parser.add_argument("--checkpoint-every", type=int, default=500)
    parser.add_argument("--resume", action="store_true", help="continue <out>/last.pt")
    parser.add_argument("--stop-after", type=int, default=0,
                        help="checkpoint and stop at this step (continue with --resume)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not (args.models / "meta.json").is_file():
        parser.error(f"{args.models / 'meta.json'}: not found (export a generator first)")
    if args.size % FACTOR or args.size // FACTOR < args.patch + 2 * receptive_pad(args.depth):
        parser.error(f"--size {args.size}: needs a multiple of {FACTOR} with room for the patch")
    result = train(args)
    if result["net"] is None:
        print(f"stopped at step {result['steps']} of {args.steps}; continue with --resume")
        return 0
    info = {key: result[key] for key in ("steps", "seconds", "images", "holdout_images",
                                         "holdout")}  # fmt: skip
    info.update(size=args.size, patch=args.patch, batch=args.batch, seed=args.seed)
    entry = install(result["net"], args.models, width=args.width, depth=args.depth, info=info)
    print(json.dumps({"upscaler": entry}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
