"""Differentiable augmentation of the discriminator's inputs (Zhao et al. 2020, "DiffAugment").

Every image D sees — real or fake, in the D step, the G step and the R1 penalty — goes through the
same random policy; the ops are differentiable, so G's gradient flows through them. D never sees an
un-augmented image, so the augmentations do not leak into what G learns, while D is kept from
memorising the training set. Policy: a comma-separated subset of ``color`` (brightness, saturation,
contrast), ``translation`` (integer shifts up to ⅛ of the side, zero padded) and ``cutout`` (one
zeroed square of ``cutout_ratio`` of the side).

Randomness comes from an explicit ``torch.Generator`` (the training step seeds one from (seed,
iteration, stream)), so a resumed run augments exactly as the uninterrupted one would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICY_OPS = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"color,translation"`` → ``("color", "translation")``; ``""`` → no augmentation."""
    ops = tuple(op.strip() for op in policy.split(",") if op.strip())
    unknown = [op for op in ops if op not in POLICY_OPS]
    if unknown:
        raise ValueError(f"diffaug: unknown ops {unknown}; choose from {list(POLICY_OPS)}")
    return ops


def _uniform(n: int, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=generator).to(like)


def color(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Per-image brightness ±0.5, saturation ×[0, 2], contrast ×[0.5, 1.5] (images in [-1, 1])."""
    n = x.shape[0]
    x = x + (_uniform(n, generator, x) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(n, generator, x) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(n, generator, x) + 0.5) + mean


def translation(
    x: torch.Tensor, generator: torch.Generator | None = None, *, ratio: float = 0.125
) -> torch.Tensor:
    """Shift each image by integers in ``[-ratio·H, ratio·H]`` × ``[-ratio·W, ratio·W]``; the
    uncovered border is zero (mid-grey)."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n,), generator=generator)
    dx = torch.randint(-sx, sx + 1, (n,), generator=generator)
    padded = F.pad(x, (sx, sx, sy, sy))
    ys = (torch.arange(h)[None, :] + sy - dy[:, None]).to(x.device)  # [n, h]
    xs = (torch.arange(w)[None, :] + sx - dx[:, None]).to(x.device)  # [n, w]
    rows = padded.gather(2, ys[:, None, :, None].expand(-1, x.shape[1], -1, padded.shape[3]))
    return rows.gather(3, xs[:, None, None, :].expand(-1, x.shape[1], h, -1))


def cutout(
    x: torch.Tensor, generator: torch.Generator | None = None, *, ratio: float = 0.5
) -> torch.Tensor:
    """Zero one ``ratio·H × ratio·W`` square per image, centred anywhere (clipped at the border)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n,), generator=generator)
    cx = torch.randint(0, w + (1 - cw % 2), (n,), generator=generator)
    ys = torch.arange(h)[None, :] - (cy[:, None] - ch // 2)  # [n, h]
    xs = torch.arange(w)[None, :] - (cx[:, None] - cw // 2)
    inside = ((ys >= 0) & (ys < ch))[:, :, None] & ((xs >= 0) & (xs < cw))[:, None, :]
    return x * (~inside)[:, None].to(x)


def diff_augment(
    x: torch.Tensor,
    policy: str | tuple[str, ...],
    generator: torch.Generator | None = None,
    *,
    cutout_ratio: float = 0.5,
) -> torch.Tensor:
    """``x [B, 3, H, W]`` through the ops of ``policy`` (in the order color, translation, cutout)."""
    ops = parse_policy(policy) if isinstance(policy, str) else policy
    if "color" in ops:
        x = color(x, generator)
    if "translation" in ops:
        x = translation(x, generator)
    if "cutout" in ops:
        x = cutout(x, generator, ratio=cutout_ratio)
    return x
