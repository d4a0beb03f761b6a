"""GAN networks: the generator (shared with the renderer) and a light discriminator."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from renderer.decode.generator import Generator, GeneratorConfig, build_generator, sample_latents

__all__ = [
    "Discriminator",
    "DiscriminatorConfig",
    "Generator",
    "GeneratorConfig",
    "build_generator",
    "sample_latents",
]


@dataclass(frozen=True)
class DiscriminatorConfig:
    channels: tuple[int, ...] = (16, 32, 64, 128, 128)  # width at 1×, ½×, ¼×, … the image size


class DownBlock(nn.Module):
    """ResBlock ``in → out`` followed by a strided (×½) convolution; the skip is avg-pooled."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_in, 3, padding=1)
        self.conv2 = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)
        self.skip = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 1, bias=False))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.act(self.conv1(self.act(x))))
        return (self.skip(x) + h) * (0.5**0.5)  # keep activations' variance stable


class Discriminator(nn.Module):
    """Mirrored ResBlocks with strided downsampling and a global-average head → logits ``[B]``.

    Works at any input size ≥ 2^(len(channels)-1) (global pooling), so the CPU recipe can train on
    64² crops and the GPU recipe on 256² images with the same network.
    """

    def __init__(self, config: DiscriminatorConfig | None = None) -> None:
        super().__init__()
        self.config = config or DiscriminatorConfig()
        ch = self.config.channels
        self.stem = nn.Conv2d(3, ch[0], 3, padding=1)
        self.blocks = nn.Sequential(
            *(DownBlock(a, b) for a, b in zip(ch[:-1], ch[1:], strict=True))
        )
        self.head = nn.Sequential(
            nn.LeakyReLU(0.2), nn.Conv2d(ch[-1], ch[-1], 3, padding=1), nn.LeakyReLU(0.2)
        )
        self.out = nn.Linear(ch[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(self.blocks(self.stem(x)))
        return self.out(h.mean(dim=(2, 3))).squeeze(1)
