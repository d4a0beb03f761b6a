"""The SWD table: trained EMA generator vs the real-vs-real floor and the untrained generator.

``python training/evaluate.py --checkpoint training/outputs/cpu/checkpoints/last.ckpt``

SWD ×10³ on Laplacian-pyramid 7×7 patches (``training/metrics.py``) against held-out real images
(the first ``holdout`` of the manifest, which training never sees), at the training crop size and
at the full 256² the renderer decodes. Also the saturation / chroma statistics of each set.
Writes ``<run>/swd_table.json`` beside the checkpoint's run folder. The checkpoint is loaded with
``weights_only=True`` (``checkpoint_io.load_checkpoint``): a file that needs arbitrary unpickling is
refused with an error naming it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

if __package__ in (None, ""):  # `python training/evaluate.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.losses import colour_stats
from training.metrics import swd_pyramid
from training.models import Generator, sample_latents


def _colour(images: torch.Tensor) -> dict:
    stats = colour_stats(images)
    return {"saturation": round(float(stats[0]), 4), "chroma_spread": round(float(stats[6:8].norm()), 4)}  # fmt: skip


@torch.no_grad()
def swd_table(
    trained: Generator,
    untrained: Generator,
    *,
    holdout: torch.Tensor,
    reference: torch.Tensor,
    seed: int = 0,
    batch: int = 8,
) -> dict:
    """Rows ``{name: {"swd": [per level], "swd_mean", "saturation", "chroma_spread"}}`` for the
    real reference batch, the untrained and the trained generator vs ``holdout [N, 3, S, S]``."""
    n, _, size, _ = holdout.shape
    cells = size // trained.config.scale
    z = sample_latents(
        n, trained.config, (cells, cells), generator=torch.Generator().manual_seed(seed)
    )

    def decode(g: Generator) -> torch.Tensor:
        return torch.cat([g.eval()(chunk) for chunk in z.split(batch)])

    sets = {"real_vs_real": reference[:n], "untrained_g": decode(untrained),
            "trained_g": decode(trained)}  # fmt: skip
    table = {}
    for name, images in sets.items():
        swd = swd_pyramid(holdout, images, seed=seed)
        table[name] = {"swd": [round(v, 2) for v in swd], "swd_mean": round(float(np.mean(swd)), 2),
                       **_colour(images)}  # fmt: skip
    table["holdout"] = _colour(holdout)
    return table


def main(argv: list[str] | None = None) -> int:
    from training.checkpoint_io import load_ema_generator
    from training.dataset import ImageFolderDataset, load_images

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("training/outputs/cpu/checkpoints/last.ckpt")
    )
    parser.add_argument("--data", type=Path, default=Path("data/full"))
    parser.add_argument("--manifest", type=Path, default=Path("data/manifest.csv"))
    parser.add_argument("--holdout", type=int, default=64)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: beside run)")
    args = parser.parse_args(argv)
    trained, info = load_ema_generator(args.checkpoint)
    with torch.random.fork_rng(devices=[]):  # the run's initial weights (train seeds G first)
        torch.manual_seed(int(info.get("seed", 7)))
        untrained = Generator(trained.config)
    images = load_images(args.data, manifest=args.manifest, limit=2 * args.holdout)
    result = {"iterations": info.get("iterations")}
    for size in args.sizes:
        crops = [
            torch.stack([ds[i] for i in range(len(ds))])
            for ds in (
                ImageFolderDataset("", images=part, size=images.shape[1], crop=size, augment=False)
                for part in (images[: args.holdout], images[args.holdout :])
            )
        ]
        n = args.holdout if size <= 64 else min(args.holdout, 32)  # 256² decodes are costly
        result[f"{size}px"] = swd_table(
            trained, untrained, holdout=crops[0][:n], reference=crops[1][:n]
        )
        print(f"{size}px: " + ", ".join(f"{k} {v.get('swd_mean', '')} sat {v['saturation']}"
                                        for k, v in result[f"{size}px"].items()))  # fmt: skip
    out = args.out or Path(args.checkpoint).parents[1] / "swd_table.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
