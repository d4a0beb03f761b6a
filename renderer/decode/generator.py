"""The generator: spatial latent ``z [B, C, h, w]`` → RGB ``[B, 3, 16h, 16w]`` in ``[-1, 1]``.

Fully convolutional (ResBlocks + ×2 upsampling, normalisation + SiLU, tanh), so a wider latent
grid gives a wider canvas at the same texture scale: (8, 16, 16) → 256², (8, 17, 30) → 272×480.
Shared by training (``training/models.py``) and the renderer's torch decoder backend; it has no
training-only dependencies. 0.353 M parameters, 3.23 GFLOP per 256² frame (default config,
counted with ``torch.utils.flop_counter.FlopCounterMode``; budget ≤ 4).

Options (defaults = the original model, whose weights load unchanged): ``upsample="bilinear"``
(no 2-px checkerboard from nearest-neighbour blocks) and ``stem_blocks`` (ResBlocks at the latent
grid's resolution, where capacity is cheap). The cpu2 recipe, ``channels=(160, 128, 64, 32, 16)``,
``stem_blocks=1``, bilinear: 0.98 M parameters, 3.94 GFLOP per 256² frame (1.22× the original).
``detail_gain`` appends a fixed, weightless output filter (:class:`DetailStage`) that restores the
finest octave the last bilinear stage attenuates.

Two choices make a generator trained on small crops render large canvases (the first model, with
GroupNorm and i.i.d. latents, did not — see DEVLOG):

- ``norm="channel"`` normalises each pixel over its channels (LayerNorm over C, as in ConvNeXt), so
  nothing depends on the canvas size. ``norm="group"`` (GroupNorm over groups × space, the spec's
  choice) takes statistics over the whole canvas; trained on 64² crops, those statistics do not
  transfer to a 272×480 canvas.
- The latent prior (:func:`sample_latents`) has a *style* part shared by every cell of a grid
  (``style_share`` of the variance) and a per-cell part, so one latent grid is one picture with one
  palette, as the training images are, rather than a patchwork of unrelated crops.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    latent_channels: int = 8  # C of the spatial latent z
    channels: tuple[int, ...] = (128, 96, 64, 32, 16)  # width at 1×, 2×, 4×, 8×, 16× the grid
    groups: int = 8  # GroupNorm groups (must divide every width); norm="group" only
    norm: str = "channel"  # "channel" (per-pixel LayerNorm over C) or "group" (GroupNorm)
    style_share: float = 0.75  # latent prior: variance shared by all cells of a grid
    upsample: str = "nearest"  # ×2 upsampling in every UpBlock: "nearest" or "bilinear"
    stem_blocks: int = 0  # extra ResBlocks at the latent grid's resolution (cheap capacity)
    padding_mode: str = "zeros"  # 3×3 convs' border: "zeros" or "reflect" (no edge cue)
    detail_gain: float = 0.0  # DetailStage after the tanh (0: none, the original output)

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

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"generator norm must be one of {sorted(NORMS)}, not {self.norm!r}")
        if not 0.0 <= self.style_share < 1.0:
            raise ValueError(f"style_share must be in [0, 1), not {self.style_share}")
        if self.upsample not in UPSAMPLE_MODES:
            raise ValueError(
                f"generator upsample must be one of {sorted(UPSAMPLE_MODES)}, not {self.upsample!r}"
            )
        if self.stem_blocks < 0:
            raise ValueError(f"stem_blocks must be ≥ 0, not {self.stem_blocks}")
        if not 0.0 <= self.detail_gain <= 2.0:
            raise ValueError(f"generator detail_gain must be in [0, 2], not {self.detail_gain}")
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(
                f"generator padding_mode must be one of {sorted(PADDING_MODES)}, "
                f"not {self.padding_mode!r}"
            )


def sample_latents(
    n: int,
    config: GeneratorConfig,
    hw: tuple[int, int],
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``[n, C, h, w]`` from the prior: ``√s · style[C] + √(1-s) · cell[C, h, w]``, all N(0, 1).

    Every cell is marginally N(0, 1); the style part is shared across the grid (``s`` =
    ``config.style_share``).
    """
    c, (h, w), s = config.latent_channels, hw, config.style_share
    style = torch.randn(n, c, 1, 1, generator=generator)
    cells = torch.randn(n, c, h, w, generator=generator)
    return math.sqrt(s) * style + math.sqrt(1.0 - s) * cells


class ChannelNorm(nn.Module):
    """LayerNorm over channels at every pixel (``[B, C, H, W]``), with a per-channel affine."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            # Plain ops for the exporter (the permuted layer_norm below makes torch.export pin the
            # batch size); ONNX Runtime runs this as fast as GroupNorm.
            centred = x - x.mean(1, keepdim=True)
            var = (centred * centred).mean(1, keepdim=True)
            scale = torch.rsqrt(var + self.eps)
            return centred * scale * self.weight[:, None, None] + self.bias[:, None, None]
        # On a channels_last tensor the permute is free and layer_norm is one fused kernel:
        # ~2× faster than the plain ops in torch (bf16, 2 CPU threads).
        y = F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


NORMS = {
    "channel": lambda channels, groups: ChannelNorm(channels),
    "group": lambda channels, groups: nn.GroupNorm(min(groups, channels), channels),
}


UPSAMPLE_MODES = ("nearest", "bilinear")
PADDING_MODES = ("zeros", "reflect")


class Upsample2x(nn.Module):
    """×2 upsampling. ``"nearest"`` repeats pixels (the original recipe; its 2-px blocks leave a
    faint checkerboard); ``"bilinear"`` (``align_corners=False``, = nearest followed by the
    [1, 3, 3, 1]/8 filter) does not alias. Both export to ONNX ``Resize``."""

    def __init__(self, mode: str = "nearest") -> None:
        super().__init__()
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "bilinear":
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return F.interpolate(x, scale_factor=2, mode="nearest")

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


def conv3x3(c_in: int, c_out: int, config: GeneratorConfig) -> nn.Conv2d:
    """A same-size 3×3 convolution with the config's border handling. Zero padding tells every
    layer where the edge is; trained on small crops, the network then paints frames along the
    borders of a full-size image. Reflect padding gives the edges no such cue."""
    return nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode=config.padding_mode)


class ResBlock(nn.Module):
    """Pre-activation ResBlock ``c → c`` at constant resolution (identity skip), scaled by
    √½ so stacking blocks keeps the activations' variance."""

    def __init__(self, channels: int, config: GeneratorConfig) -> None:
        super().__init__()
        norm = NORMS[config.norm]
        self.norm1 = norm(channels, config.groups)
        self.conv1 = conv3x3(channels, channels, config)
        self.norm2 = norm(channels, config.groups)
        self.conv2 = conv3x3(channels, channels, config)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(self.act(self.norm1(x)))
        h = self.conv2(self.act(self.norm2(h)))
        return (x + h) * (0.5**0.5)


class UpBlock(nn.Module):
    """×2 upsample, then a pre-activation ResBlock ``in → out`` with a 1×1 skip."""

    def __init__(self, c_in: int, c_out: int, config: GeneratorConfig) -> None:
        super().__init__()
        norm = NORMS[config.norm]
        self.up = Upsample2x(config.upsample)
        self.norm1 = norm(c_in, config.groups)
        self.conv1 = conv3x3(c_in, c_out, config)
        self.norm2 = norm(c_out, config.groups)
        self.conv2 = conv3x3(c_out, c_out, config)
        self.skip = nn.Conv2d(c_in, c_out, 1)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        h = self.conv1(self.act(self.norm1(x)))
        h = self.conv2(self.act(self.norm2(h)))
        return self.skip(x) + h


class DetailStage(nn.Module):
    """``clamp(y + gain · (y − B y), −1, 1)`` per colour channel, with ``B`` the 5×5 binomial
    blur (σ ≈ 1 px, reflect border): an unsharp mask as one fixed depthwise convolution.

    A bilinear ×2 upsampling halves the response near its output's Nyquist frequency, and the
    16-channel convolutions after the last one do not make it back: the cpu4 generator's finest
    Laplacian octave holds two thirds of the training images' energy (DEVLOG 2026-12-08). This
    stage has no weights (the kernel is a non-persistent buffer), so a checkpoint loads with or
    without it and ``gain`` lives in the generator's config."""

    def __init__(self, gain: float, channels: int = 3) -> None:
        super().__init__()
        self.gain = float(gain)
        taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
        kernel = -self.gain * (taps[:, None] * taps[None, :])
        kernel[2, 2] += 1.0 + self.gain
        self.register_buffer(
            "kernel", kernel[None, None].repeat(channels, 1, 1, 1), persistent=False
        )

    # Eager under torch.compile (a graph break before the output): Inductor's own lowering of
    # the reflect pad and the 3-channel depthwise convolution cost ~9 ms per 1080p decode, eager ~1.
    @torch.compiler.disable
    def forward(self, y: torch.Tensor) -> torch.Tensor:
        padded = F.pad(y, (2, 2, 2, 2), mode="reflect")
        if not torch.onnx.is_in_onnx_export() and y.is_contiguous(
            memory_format=torch.channels_last
        ):
            # the pad returns NCHW: back to the renderer's channels_last, where the depthwise
            # convolution is ~10× faster and the uint8 HWC frame after it a plain copy
            padded = padded.contiguous(memory_format=torch.channels_last)
        return F.conv2d(padded, self.kernel.to(y.dtype), groups=y.shape[1]).clamp(-1.0, 1.0)

    def extra_repr(self) -> str:
        return f"gain={self.gain}"


class Generator(nn.Module):
    def __init__(self, config: GeneratorConfig | None = None) -> None:
        super().__init__()
        self.config = config or GeneratorConfig()
        ch = self.config.channels
        self.stem = conv3x3(self.config.latent_channels, ch[0], self.config)
        # absent (not an empty ModuleList) by default, so the original state_dict is unchanged
        if self.config.stem_blocks:
            self.stem_blocks = nn.ModuleList(
                ResBlock(ch[0], self.config) for _ in range(self.config.stem_blocks)
            )
        else:
            self.stem_blocks = None
        self.blocks = nn.ModuleList(
            UpBlock(a, b, self.config) for a, b in zip(ch[:-1], ch[1:], strict=True)
        )
        self.head = nn.Sequential(
            NORMS[self.config.norm](ch[-1], self.config.groups),
            nn.SiLU(),
            conv3x3(ch[-1], 3, self.config),
        )
        # absent without a gain, as stem_blocks: the original model's modules are unchanged
        self.detail = DetailStage(self.config.detail_gain) if self.config.detail_gain else None
        self.checkpointing = False

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``z [B, C, h, w]`` → ``[B, 3, scale·h, scale·w]`` in [-1, 1]."""
        x = self.stem(z)
        for block in [*(self.stem_blocks or ()), *self.blocks]:
            if self.checkpointing and self.training:
                from torch.utils.checkpoint import checkpoint

                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        y = torch.tanh(self.head(x))
        return self.detail(y) if self.detail is not None else y


def build_generator(config: dict | GeneratorConfig | None = None) -> Generator:
    """A generator from a config dataclass or its dict form (as stored in ``meta.json``)."""
    if isinstance(config, dict):
        config = GeneratorConfig.from_dict(config)
    return Generator(config)
