"""Train the GAN with PyTorch Lightning (manual optimisation).

``python training/train_gan.py --config training/configs/cpu.yaml [--resume]``

Objective (spec §5.2): non-saturating logistic loss, lazy R1 (γ every ``r1_interval`` steps, scaled
by the interval), colour-statistics regulariser (and, with ``detail_weight``, the detail
regulariser), AdamW(β=(0.5, 0.999)), cosine LR, EMA of G.
Every ``sample_every`` iterations it writes a fixed-noise grid and an interpolation sweep from the
EMA generator and logs SWD (Laplacian-pyramid patches) against a held-out real batch to
``metrics.csv``. ``--resume`` continues from ``<out>/checkpoints/last.ckpt``.

Options beyond cpu.yaml's recipe (all off by default, so cpu.yaml trains exactly as before):
``diffaug`` (DiffAugment of every D input, ``training/diffaug.py``), ``channels_last`` (NHWC
tensors; with ``precision: bf16-mixed`` about 2× faster on an AMX CPU) and the generator's
``upsample`` / ``stem_blocks`` (``renderer/decode/generator.py``); ``training/configs/cpu2.yaml`` uses
them. :func:`training.checkpoint_io.load_ema_generator` (used by ``evaluate.py`` and ``export_onnx.py``) loads checkpoints
with ``torch.load(weights_only=True)``: a crafted pickle is refused, never executed.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import yaml

if __package__ in (None, ""):  # `python training/train_gan.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.diffaug import diff_augment, parse_policy
from training.hardware import precision_warning
from training.losses import (
    colour_regulariser,
    colour_stats,
    d_logistic,
    detail_regulariser,
    g_nonsaturating,
    r1_penalty,
)
from training.metrics import swd_pyramid
from training.models import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    sample_latents,
)


@dataclass
class TrainConfig:
    data_dir: str = "data/full"
    manifest: str = "data/manifest.csv"
    out_dir: str = "training/outputs/cpu"
    crop: int = 64  # training resolution (random crops of the 256² images)
    batch_size: int = 16
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    r1_gamma: float = 10.0
    r1_interval: int = 16  # lazy R1: every N iterations, scaled by N
    colour_weight: float = 0.5
    detail_weight: float = 0.0  # losses.detail_regulariser: each octave's energy to the data's
    ema_decay: float = 0.999
    ema_warmup: int = 200  # EMA ramps in over the first iterations
    max_iterations: int = 4000  # the cosine schedule ends here (LR 0)
    lr_decay_start: int = 0  # the cosine starts here; the LR is constant before it
    max_minutes: float | None = None  # wall-clock budget (stops cleanly, checkpoint kept)
    precision: str = "32-true"  # or "bf16-mixed"
    channels_last: bool = False  # NHWC tensors: with bf16-mixed ~2× faster on a 2-core AMX CPU
    gradient_checkpointing: bool = False
    sample_every: int = 200
    checkpoint_every: int = 100
    log_every: int = 10  # Lightning logging interval (optimizer steps)
    seed: int = 7
    limit_images: int | None = None
    holdout: int = 64  # images kept out of training for SWD
    threads: int | None = None
    diffaug: str = ""  # DiffAugment policy for D's inputs, e.g. "color,translation,cutout"
    diffaug_cutout: float = 0.5  # cutout square side, as a fraction of the crop
    generator: dict = field(default_factory=dict)
    discriminator: dict = field(default_factory=dict)


def load_train_config(path: Path | None, overrides: dict | None = None) -> TrainConfig:
    data = yaml.safe_load(path.read_text()) if path else {}
    data = {**(data or {}), **(overrides or {})}
    known = set(TrainConfig.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown training options {sorted(unknown)}")
    if "betas" in data:
        data["betas"] = tuple(data["betas"])
    return TrainConfig(**data)


def latent_hw(crop: int, scale: int) -> tuple[int, int]:
    return crop // scale, crop // scale


def lr_factor(step: int, *, start: int, end: int) -> float:
    """The LR multiplier at ``step``: 1 until ``start``, then a cosine down to 0 at ``end``.

    ``start > 0`` anneals a run resumed after a long phase at a near-constant LR.
    """
    if step <= start:
        return 1.0
    if step >= end:
        return 0.0
    return 0.5 * (1.0 + math.cos(math.pi * (step - start) / (end - start)))


def _seeded(*key: int) -> torch.Generator:
    """A CPU generator seeded by a tuple of ints (SeedSequence mixes them, no collisions)."""
    seed = int(np.random.SeedSequence([int(k) for k in key]).generate_state(2, np.uint64)[0])
    return torch.Generator().manual_seed(seed % (2**63))


class GANModule(pl.LightningModule):
    """G, D and the EMA of G, trained with manual optimisation (one D and one G step per
    iteration). All randomness of a step — latents and D-input augmentation — is a function of
    (seed, iteration), so ``--resume`` continues exactly."""

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.automatic_optimization = False
        gcfg = GeneratorConfig.from_dict(cfg.generator) if cfg.generator else GeneratorConfig()
        dch = cfg.discriminator.get("channels")
        self.G = Generator(gcfg)
        self.G.checkpointing = cfg.gradient_checkpointing
        self.D = Discriminator(DiscriminatorConfig(tuple(dch)) if dch else None)
        if cfg.channels_last:  # conv weights NHWC; activations follow them
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.register_buffer("iteration", torch.zeros((), dtype=torch.long))
        self.diffaug = parse_policy(cfg.diffaug)
        self.history: list[dict] = []  # per-iteration losses (not checkpointed)

    def configure_optimizers(self):
        cfg = self.cfg
        opt_g = torch.optim.AdamW(
            self.G.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
        )
        opt_d = torch.optim.AdamW(
            self.D.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
        )

        def schedule(step: int) -> float:
            # a closure over the config: LambdaLR does not checkpoint it, so a resumed run follows
            # the schedule of its own config (the 512 pass extends the 256 run's schedule)
            return lr_factor(step, start=cfg.lr_decay_start, end=cfg.max_iterations)

        sched = [torch.optim.lr_scheduler.LambdaLR(o, schedule) for o in (opt_g, opt_d)]
        return [opt_g, opt_d], sched

    def sample_z(self, n: int, *, it: int, stream: int) -> torch.Tensor:
        # Noise is a function of (seed, iteration, stream), so a resumed run draws exactly
        # the latents the uninterrupted run would have drawn.
        h, w = latent_hw(self.cfg.crop, self.G.config.scale)
        noise = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + 2 * it + stream)
        z = sample_latents(n, self.G.config, (h, w), generator=noise).to(self.device)
        return z.contiguous(memory_format=torch.channels_last) if self.cfg.channels_last else z

    def augment(self, x: torch.Tensor, *, it: int, stream: int) -> torch.Tensor:
        """D's view of ``x``: DiffAugment with the configured policy (identity without one)."""
        if not self.diffaug:
            return x
        generator = _seeded(self.cfg.seed, it, stream, 0xDA)
        return diff_augment(x, self.diffaug, generator, cutout_ratio=self.cfg.diffaug_cutout)

    def training_step(self, real: torch.Tensor, batch_idx: int) -> None:
        cfg = self.cfg
        opt_g, opt_d = self.optimizers()
        it = int(self.iteration)
        if cfg.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        # --- discriminator
        fake = self.G(self.sample_z(real.shape[0], it=it, stream=0)).detach()
        real_d = self.augment(real, it=it, stream=0)
        d_loss = d_logistic(self.D(real_d), self.D(self.augment(fake, it=it, stream=1)))
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d_loss)
        r1 = torch.zeros(())
        if it % cfg.r1_interval == 0:
            r1 = r1_penalty(self.D, real_d)  # at D's (augmented) inputs, as StyleGAN2-ADA
            self.manual_backward(0.5 * cfg.r1_gamma * cfg.r1_interval * r1)
        opt_d.step()
        # --- generator
        fake = self.G(self.sample_z(real.shape[0], it=it, stream=1))
        g_adv = g_nonsaturating(self.D(self.augment(fake, it=it, stream=2)))
        colour = colour_regulariser(fake, real)
        detail = detail_regulariser(fake, real) if cfg.detail_weight else torch.zeros(())
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g_adv + cfg.colour_weight * colour + cfg.detail_weight * detail)
        opt_g.step()
        for sched in self.lr_schedulers():
            sched.step()
        self._update_ema(it)
        self.iteration += 1
        losses = {"d": d_loss.detach(), "g": g_adv.detach(), "colour": colour.detach(),
                  "detail": detail.detach(), "r1": r1.detach()}  # fmt: skip
        self.history.append({"iteration": it, **{k: float(v) for k, v in losses.items()}})
        self.log_dict(losses, prog_bar=True, on_step=True)

    @torch.no_grad()
    def _update_ema(self, it: int) -> None:
        cfg = self.cfg
        decay = min(cfg.ema_decay, (1 + it) / (10 + it)) if it < cfg.ema_warmup else cfg.ema_decay
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.lerp_(p.detach(), 1 - decay)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)


def make_module(cfg: TrainConfig) -> GANModule:
    return GANModule(cfg)


class _SamplerHooks(pl.Callback):
    """The Lightning hooks of a :class:`SamplerCallback`."""

    def __init__(self, sampler: SamplerCallback) -> None:
        self.sampler = sampler

    def on_train_start(self, trainer, module) -> None:
        self.sampler.write_references(module)

    def on_train_epoch_start(self, trainer, module) -> None:
        # fresh augmentations every epoch (the dataset seeds samples by (seed, epoch, i))
        trainer.train_dataloader.dataset.set_epoch(trainer.current_epoch)

    def on_train_batch_end(self, trainer, module, *args) -> None:
        it = int(module.iteration)
        if it % self.sampler.cfg.sample_every == 0 or it == 1:
            self.sampler.snapshot(module, it)


class SamplerCallback:
    """Every ``sample_every`` iterations: a fixed-noise grid and an interpolation sweep from the
    EMA generator, SWD against the held-out batch and colour statistics vs the data, appended to
    ``metrics.csv``; ``metrics.json`` holds the reference SWDs (real-vs-real floor, untrained G)."""

    def __init__(
        self, cfg: TrainConfig, holdout: torch.Tensor, reference: torch.Tensor, out: Path
    ) -> None:
        self.cfg, self.holdout, self.reference, self.out = cfg, holdout, reference, out
        self.callback = _SamplerHooks(self)
        z_gen = torch.Generator().manual_seed(12345)
        gcfg = GeneratorConfig.from_dict(cfg.generator)
        # 256² (the full texture scale) for the grid, the training crop for SWD
        self.grid_z = sample_latents(16, gcfg, (16, 16), generator=z_gen)
        self.swd_z = sample_latents(len(holdout), gcfg, latent_hw(cfg.crop, 16), generator=z_gen)
        self.sweep_z = sample_latents(2, gcfg, (8, 8), generator=z_gen)

    @torch.no_grad()
    def write_references(self, module) -> dict:
        """SWD floor (two disjoint real batches) and the untrained generator (same seed)."""
        with torch.random.fork_rng(devices=[]):  # G's initial weights, globals left untouched
            torch.manual_seed(self.cfg.seed)
            untrained = Generator(module.G.config).to(module.device).eval()
        fake = untrained(self.swd_z.to(module.device)).cpu()
        refs = {
            "real_vs_real": swd_pyramid(self.holdout, self.reference),
            "untrained_g": swd_pyramid(self.holdout, fake),
            "real_colour": [round(float(v), 4) for v in colour_stats(self.holdout)],
        }
        (self.out / "metrics.json").write_text(json.dumps(refs, indent=1))
        return refs

    @torch.no_grad()
    def snapshot(self, module, it: int) -> dict:
        from training.visualise import save_grid

        g = module.G_ema
        samples = g(self.grid_z.to(module.device)).cpu()
        save_grid(samples, self.out / "samples" / f"grid_{it:06d}.png", columns=4)
        t = torch.linspace(0, 1, 8)[:, None, None, None]
        a, b = self.sweep_z
        sweep = g(((1 - t) * a + t * b) / torch.sqrt((1 - t) ** 2 + t**2)).cpu()
        save_grid(sweep, self.out / "samples" / f"sweep_{it:06d}.png", columns=8)
        fake = g(self.swd_z.to(module.device)).cpu()
        swd = swd_pyramid(self.holdout, fake)
        fake_c, real_c = colour_stats(fake), colour_stats(self.holdout)
        row = {"iteration": it, "time": round(time.time(), 1), "swd_mean": round(float(np.mean(swd)), 3),
               **{f"swd_l{i}": round(v, 3) for i, v in enumerate(swd)},
               "sat_fake": round(float(fake_c[0]), 4), "sat_real": round(float(real_c[0]), 4),
               "chroma_spread_fake": round(float(fake_c[6:8].norm()), 4),
               "chroma_spread_real": round(float(real_c[6:8].norm()), 4)}  # fmt: skip
        path = self.out / "metrics.csv"
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        return row


def _crops(images: np.ndarray, crop: int) -> torch.Tensor:
    """Centre crops ``[N, 3, crop, crop]`` in [-1, 1] of uint8 images ``[N, H, W, 3]``."""
    from training.dataset import ImageFolderDataset

    ds = ImageFolderDataset("", images=images, size=images.shape[1], crop=crop, augment=False)
    return torch.stack([ds[i] for i in range(len(ds))])


def train(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    resume_from: Path | None = None,
    progress: bool = True,
):
    """Run (or continue) training; returns the Lightning module (``.G``, ``.G_ema``, ``.D``,
    ``.iteration``, ``.history``). The checkpoint is ``<out_dir>/checkpoints/last.ckpt``;
    ``resume`` continues from it, ``resume_from`` from another one (e.g. the committed
    ``training/checkpoints/cpu-last.ckpt``)."""
    from torch.utils.data import DataLoader

    from training.dataset import ImageFolderDataset, load_images

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if warning := precision_warning(cfg.precision, accelerator=accelerator):
        print(warning, file=sys.stderr)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1))
    images = load_images(Path(cfg.data_dir), manifest=Path(cfg.manifest), limit=cfg.limit_images)
    if len(images) < 2 * cfg.holdout + cfg.batch_size:
        raise ValueError(f"{cfg.data_dir}: {len(images)} images is too few for holdout "
                         f"{cfg.holdout} and batch {cfg.batch_size}")  # fmt: skip
    holdout_imgs, train_imgs = images[: cfg.holdout], images[cfg.holdout :]
    # native size: crops are at the full texture scale the renderer decodes at
    dataset = ImageFolderDataset(cfg.data_dir, images=train_imgs, size=images.shape[1],
                                 crop=cfg.crop, seed=cfg.seed)  # fmt: skip
    holdout = _crops(holdout_imgs, cfg.crop)
    reference = _crops(train_imgs[: cfg.holdout], cfg.crop)  # for the real-vs-real SWD floor
    loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, drop_last=True, num_workers=0,
                        generator=torch.Generator().manual_seed(cfg.seed))  # fmt: skip
    module = make_module(cfg)
    sampler = SamplerCallback(cfg, holdout, reference, out)
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=out / "checkpoints", save_last=True, save_top_k=0,
                                        every_n_train_steps=2 * cfg.checkpoint_every)  # fmt: skip
    trainer = pl.Trainer(
        accelerator="auto",
        devices=1,
        precision=cfg.precision,
        max_steps=2 * cfg.max_iterations,  # manual optimisation: two optimizer steps per iteration
        max_time={"minutes": cfg.max_minutes} if cfg.max_minutes else None,
        callbacks=[ckpt, sampler.callback],
        logger=pl.loggers.CSVLogger(out, name="logs"),
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=cfg.log_every,
        num_sanity_val_steps=0,
    )
    last = out / "checkpoints" / "last.ckpt"
    start = resume_from or (last if resume and last.exists() else None)
    if start is not None and not Path(start).is_file():
        raise FileNotFoundError(f"{start}: checkpoint to resume from not found")
    trainer.fit(module, loader, ckpt_path=str(start) if start else None)
    trainer.save_checkpoint(last)
    sampler.snapshot(module, int(module.iteration))
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="YAML of TrainConfig fields")
    parser.add_argument(
        "--resume", action="store_true", help="continue from <out>/checkpoints/last.ckpt"
    )
    parser.add_argument("--resume-from", type=Path, default=None, help="checkpoint to continue")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override fields")
    args = parser.parse_args(argv)
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    cfg = load_train_config(args.config, overrides)
    module = train(cfg, resume=args.resume, resume_from=args.resume_from)
    print(
        f"iteration {int(module.iteration)}; checkpoint: {Path(cfg.out_dir) / 'checkpoints/last.ckpt'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
