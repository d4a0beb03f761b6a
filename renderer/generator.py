"""The generator: spatial latent ``z [B, C, h, w]`` → RGB ``[B, 3, 16h, 16w]`` in ``[-1, 1]``.

Fully convolutional (ResBlocks + nearest upsampling, GroupNorm + SiLU, tanh), so a wider latent
grid gives a wider canvas at the same texture scale: (8, 16, 16) → 256², (8, 17, 30) → 272×480.
Shared by training (``training/models.py``) and the renderer's torch decoder backend; it has no
training-only dependencies. 0.353 M parameters, 3.23 GFLOP per 256² frame (default config,
counted with ``torch.utils.flop_counter.FlopCounterMode``; budget ≤ 4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    latent_channels: int = 8  # C of the spatial latent z
    channels: tuple[int, ...] = (128, 96, 64, 32, 16)  # width at 1×, 2×, 4×, 8×, 16× the grid
    groups: int = 8  # GroupNorm groups (must divide every width)

    @property
    def scale(self) -> int:
        """Output pixels per latent cell."""
        return 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> GeneratorConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown generator config keys: {sorted(unknown)}")
        values = dict(data)
        if "channels" in values:
            values["channels"] = tuple(int(c) for c in values["channels"])
        return cls(**values)


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, channels), channels)


class UpBlock(nn.Module):
    """Nearest ×2 upsample, then a pre-activation ResBlock ``in → out`` with a 1×1 skip."""

    def __init__(self, c_in: int, c_out: int, groups: int) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.norm1 = _norm(c_in, groups)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = _norm(c_out, groups)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        h = self.conv1(self.act(self.norm1(x)))
        h = self.conv2(self.act(self.norm2(h)))
        return self.skip(x) + h


class Generator(nn.Module):
    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig()
        ch = self.config.channels
        self.stem = nn.Conv2d(self.config.latent_channels, ch[0], 3, padding=1)
        self.blocks = nn.ModuleList(
            UpBlock(a, b, self.config.groups) for a, b in zip(ch[:-1], ch[1:], strict=True)
        )
        self.head = nn.Sequential(
            _norm(ch[-1], self.config.groups), nn.SiLU(), nn.Conv2d(ch[-1], 3, 3, padding=1)
        )
        self.checkpointing = False

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z [B, C, h, w]`` → ``[B, 3, scale·h, scale·w]`` in [-1, 1]."""
        x = self.stem(z)
        for block in self.blocks:
            if self.checkpointing and self.training:
                from torch.utils.checkpoint import checkpoint

                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return torch.tanh(self.head(x))


def build_generator(config: dict | GeneratorConfig | None = None) -> Generator:
    """A generator from a config dataclass or its dict form (as stored in ``meta.json``)."""
    if isinstance(config, dict):
        config = GeneratorConfig.from_dict(config)
    return Generator(config)
