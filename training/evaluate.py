"""The SWD table: trained EMA generator vs the real-vs-real floor and the untrained generator.

``python training/evaluate.py --checkpoint training/outputs/cpu/checkpoints/last.ckpt``

SWD ×10³ on Laplacian-pyramid 7×7 patches (``training/metrics.py``) against held-out real images
(the first ``holdout`` of the manifest, which training never sees), at the training crop size and
at the full 256² the renderer decodes. Also the saturation / chroma statistics of each set.
Writes ``<run>/swd_table.json`` beside the checkpoint's run folder.

One table of 32–64 images is a noisy estimate: on the same checkpoint the SWD at 256² ranged
96–202 over five seeds (the seed draws the latents and the projections), wider than the gap
between two training runs. ``--seeds K`` (default 5) repeats the table with seeds ``0…K-1`` and
adds their spread under ``"spread"``: per row the mean, min and max of ``swd_mean``, and the
ratio of the trained generator's mean to the real-vs-real floor's, the figure the bars compare.

``--fresh N`` measures against ``N`` images the training never saw instead: the procedural jobs
that follow the dataset's own (``training/prompts.build_jobs`` extends a job list without changing
its first jobs), so they come from the training distribution, bucket-balanced, and are the same
on every machine. Half of them are the held-out set and half the real-vs-real reference, at every
size, so the table rests on N/2 images per set rather than 32 (``--fresh 512``: 256).

The checkpoint is loaded with ``weights_only=True`` (``checkpoint_io.load_checkpoint``): a file
that needs arbitrary unpickling is refused with an error naming it.
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


def edge_px(images: torch.Tensor) -> float | None:
    """Median edge width in pixels (``renderer.fx.frame_stats.edge_width``) over ``images``
    ``[N, 3, S, S]`` in [-1, 1], of those with a strong edge; None if none has one. The
    generator's softness at its own size, which no upscaler downstream can take back."""
    from renderer.fx.frame_stats import edge_width, grey_of

    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    widths = np.array([edge_width(grey_of(im.permute(1, 2, 0).numpy())) for im in pixels])
    widths = widths[~np.isnan(widths)]
    return round(float(np.median(widths)), 2) if widths.size else None


def fresh_images(count: int, *, after: int, size: int = 256) -> np.ndarray:
    """``[count, size, size, 3]`` uint8: jobs ``after … after + count − 1`` of the dataset's job
    list (``after`` = the dataset's image count), generated in memory."""
    from training.procedural import generate
    from training.prompts import PROMPTS_PATH, build_jobs, load_prompts

    jobs = build_jobs(load_prompts(PROMPTS_PATH), after + count)[after:]
    return np.stack([generate(job.bucket, job.seed, size=size) for job in jobs])


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
    """Rows ``{name: {"swd": [per level], "swd_mean", "edge_px", "saturation", "chroma_spread"}}``
    for the real reference batch, the untrained and the trained generator vs ``holdout``
    ``[N, 3, S, S]``."""
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
                       "edge_px": edge_px(images), **_colour(images)}  # fmt: skip
    table["holdout"] = {"edge_px": edge_px(holdout), **_colour(holdout)}
    return table


def spread(tables: list[dict]) -> dict:
    """Mean, min and max of every row's ``swd_mean`` over ``tables`` (one per seed, from
    :func:`swd_table`), and ``ratio``: the trained generator's mean over the real-vs-real mean."""
    rows = {}
    for name in ("real_vs_real", "untrained_g", "trained_g"):
        values = [t[name]["swd_mean"] for t in tables]
        rows[name] = {"mean": round(float(np.mean(values)), 2), "min": round(min(values), 2),
                      "max": round(max(values), 2), "per_seed": values}  # fmt: skip
    ratio = rows["trained_g"]["mean"] / rows["real_vs_real"]["mean"]
    return {"seeds": len(tables), **rows, "ratio": round(ratio, 3)}


def main(argv: list[str] | None = None) -> int:
    from training.checkpoint_io import (
        CheckpointConfigError,
        UnsafeCheckpointError,
        load_ema_generator,
    )
    from training.dataset import ImageFolderDataset, load_images

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("training/outputs/cpu/checkpoints/last.ckpt")
    )
    parser.add_argument("--data", type=Path, default=Path("data/full"))
    parser.add_argument("--manifest", type=Path, default=Path("data/manifest.csv"))
    parser.add_argument("--holdout", type=int, default=64)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--seeds", type=int, default=5, help="tables to average (seeds 0…K-1)")
    parser.add_argument(
        "--fresh",
        type=int,
        default=0,
        metavar="N",
        help="measure against N new images from the dataset's generator (half "
        "held out, half reference) instead of the manifest's first images",
    )
    parser.add_argument("--fresh-from", type=int, default=None, metavar="J",
                        help="first job of the --fresh images (default: the dataset's image count; "
                             "a later J gives a second, disjoint set)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: beside run)")
    parser.add_argument("--detail-gain", type=float, default=None, metavar="G",
                        help="the generator's output detail filter gain (default: the run's own)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, not {args.seeds}")
    if args.fresh < 0 or args.fresh % 2:
        parser.error(f"--fresh must be an even count of images, not {args.fresh}")
    try:
        trained, info = load_ema_generator(args.checkpoint, detail_gain=args.detail_gain)
    except (CheckpointConfigError, UnsafeCheckpointError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with torch.random.fork_rng(devices=[]):  # the run's initial weights (train seeds G first)
        torch.manual_seed(int(info.get("seed", 7)))
        untrained = Generator(trained.config)
    result = {"iterations": info.get("iterations"), "spread": {}}
    if args.fresh:
        try:  # the dataset's jobs are 0 … rows − 1; the fresh ones follow
            dataset = len(args.manifest.read_text().splitlines()) - 1
        except OSError as exc:
            print(
                f"error: {args.manifest}: cannot count the dataset's images ({exc})",
                file=sys.stderr,
            )
            return 2
        after = dataset if args.fresh_from is None else args.fresh_from
        if after < dataset:
            print(f"error: --fresh-from {after}: jobs below {dataset} are {args.manifest}'s own "
                  "training images", file=sys.stderr)  # fmt: skip
            return 2
        images = fresh_images(args.fresh, after=after)
        parts = (images[: args.fresh // 2], images[args.fresh // 2 :])
        result["fresh"] = {"images": args.fresh, "first_job": after}
    else:
        images = load_images(args.data, manifest=args.manifest, limit=2 * args.holdout)
        parts = (images[: args.holdout], images[args.holdout :])
    for size in args.sizes:
        crops = [
            torch.stack([ds[i] for i in range(len(ds))])
            for ds in (
                ImageFolderDataset("", images=part, size=images.shape[1], crop=size, augment=False)
                for part in parts
            )
        ]
        if args.fresh:
            n = args.fresh // 2
        else:
            n = args.holdout if size <= 64 else min(args.holdout, 32)  # 256² decodes are costly
        tables = [
            swd_table(trained, untrained, holdout=crops[0][:n], reference=crops[1][:n], seed=seed)
            for seed in range(args.seeds)
        ]
        result[f"{size}px"], result["spread"][f"{size}px"] = tables[0], spread(tables)
        print(f"{size}px: " + ", ".join(f"{k} {v.get('swd_mean', '')} sat {v['saturation']} "
                                        f"edge {v['edge_px']} px"
                                        for k, v in tables[0].items()))  # fmt: skip
        rows = result["spread"][f"{size}px"]
        print(f"{size}px over {args.seeds} seeds: " + ", ".join(
            f"{k} {rows[k]['mean']} ({rows[k]['min']}–{rows[k]['max']})"
            for k in ("real_vs_real", "trained_g")) + f", ratio {rows['ratio']}")  # fmt: skip
    out = args.out or Path(args.checkpoint).parents[1] / "swd_table.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
