"""The post-fx chain on a torch device (the CUDA path, issue 13): the same effects, order, tables
and per-frame decisions as :class:`renderer.fx.postfx.PostFX`, applied to whole batches of
``uint8 [B, H, W, 3]`` tensors that stay on the device until the caller takes the final frames.

What crosses to the host, and why: the auto grade's decisions (``tone``, ``colour``) are a
sequential secant search over a strided measuring sample of each frame (about 8,000 pixels,
:func:`renderer.fx.autograde.sample`), so the sample of every frame of a batch is read back in
one copy per decision (24 KB a frame at most, not the 6 MB of a 1080p frame) and decided by the
very functions the CPU chain uses; tables, masks and grain banks go the other way once. The
pixels themselves never leave the device. Effects are registered by name
(:data:`DEVICE_EFFECTS`); every name of :data:`~renderer.fx.registry.ORDER` has one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from renderer.config.models import PostFXConfig
from renderer.fx import colour_fx, postfx, torch_ops
from renderer.fx.autograde import COLOUR_PIXELS, SAMPLE_PIXELS, sample_stride
from renderer.fx.grading import vignette_mask
from renderer.fx.output_fx import grain_bank, grain_window, resample_planes
from renderer.fx.registry import ORDER, Ctx

# (frames [B, H, W, 3] uint8 tensor, frame indices [B], signals name → [B]) → frames
DeviceEffect = Callable[[torch.Tensor, np.ndarray, Mapping[str, np.ndarray]], torch.Tensor]
DEVICE_EFFECTS: dict[str, Callable[[Ctx, torch.device], DeviceEffect | None]] = {}


def register_device(name: str):
    if name not in ORDER:
        raise ValueError(f"device effect {name!r} has no place in ORDER ({', '.join(ORDER)})")

    def deco(factory):
        DEVICE_EFFECTS[name] = factory
        return factory

    return deco


def host_samples(frames: torch.Tensor, *, pixels: int) -> np.ndarray:
    """The measuring samples ``[B, h, w, 3]`` of every frame (``autograde.sample``), one copy."""
    step = sample_stride(*frames.shape[1:3], pixels=pixels)
    return frames[:, step // 2 :: step, step // 2 :: step].cpu().numpy()


def _signals_at(signals: Mapping[str, np.ndarray], i: int) -> dict[str, float]:
    return {name: float(values[i]) for name, values in signals.items()}


@register_device("tone")
def _tone(ctx: Ctx, device: torch.device) -> DeviceEffect | None:
    s = ctx.settings
    if not colour_fx.tone_active(s):
        return None
    auto = not (s.auto_exposure == 0.0 and s.luma_range is None)

    def apply(frames, indices, signals):
        small = host_samples(frames, pixels=SAMPLE_PIXELS) if auto else None
        hw = tuple(frames.shape[1:3])
        tables = []
        for i in range(len(frames)):
            stops = colour_fx.tone_decision_sampled(small[i], hw, s) if auto else s.exposure
            tables.append(colour_fx.tone_table(s.tone_curve, colour_fx.tone_key(
                stops, s, _signals_at(signals, i))))  # fmt: skip
        return torch_ops.lookup(frames, torch_ops.upload(np.stack(tables), device))

    colour_fx.tone_lut(s.tone_curve)  # fail early on an unknown curve name
    return apply


@register_device("lut")
def _lut(ctx: Ctx, device: torch.device) -> DeviceEffect | None:
    s = ctx.settings
    if s.lut is None or s.lut_strength == 0.0:
        return None
    add32, sub32, _ = colour_fx.lut_tables(s.lut, float(s.lut_strength))
    plus = torch_ops.upload(add32.view(np.uint8).reshape(-1, 4)[:, :3], device).to(torch.int16)
    minus = torch_ops.upload(sub32.view(np.uint8).reshape(-1, 4)[:, :3], device).to(torch.int16)

    def apply(frames, indices, signals):
        idx = torch_ops.lut3d_index(frames)
        return torch_ops.add_sub(frames, plus[idx], minus[idx])

    return apply


@register_device("colour")
def _colour(ctx: Ctx, device: torch.device) -> DeviceEffect | None:
    s = ctx.settings
    if not colour_fx.colour_active(s):
        return None

    def apply(frames, indices, signals):
        small = host_samples(frames, pixels=COLOUR_PIXELS)
        hw = tuple(frames.shape[1:3])
        out = torch.empty_like(frames)
        for i, frame in enumerate(frames):
            mean_l, gain, contrast, level = colour_fx.colour_decision_sampled(
                colour_fx.lch_planes(np.ascontiguousarray(small[i])), small[i], hw, s)  # fmt: skip
            out[i] = colour_fx.grade_lch(torch_ops.rgb8_to_lch(frame), mean_l=mean_l, gain=gain,
                                         contrast=contrast, level=level, knee=s.gamut_knee,
                                         kernels=torch_ops.TORCH_KERNELS)  # fmt: skip
        return out

    return apply


class _DeviceTrail:
    """``postfx._Trail`` on the device: float32 state ``s ← p·s + (1−p)·x``."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.state: torch.Tensor | None = None

    def __call__(self, frames, indices, signals):
        out = torch.empty_like(frames)
        for i, frame in enumerate(frames):
            if self.state is None:
                self.state = frame.float()
            else:
                self.state.mul_(self.decay).add_(frame.float(), alpha=1.0 - self.decay)
            out[i] = torch_ops.to_u8(self.state)  # (rounds into a new tensor)
        return out

    def reset(self) -> None:
        self.state = None


@register_device("persistence")
def _persistence(ctx: Ctx, device: torch.device) -> DeviceEffect | None:
    decay = ctx.settings.persistence
    return _DeviceTrail(decay) if decay > 0.0 else None


@register_device("vignette")
def _vignette(ctx: Ctx, device: torch.device) -> DeviceEffect | None:
    if ctx.settings.vignette == 0.0:
        return None
    mask = torch_ops.upload(vignette_mask(ctx.size, amount=ctx.settings.vignette), device).float()
    mask /= 255.0
    return lambda frames, indices, signals: torch_ops.to_u8(frames.float() * mask)


@register_device("resample")
def _resample(ctx: Ctx, device: torch.device) -> DeviceEffect | None:
    upscale = ctx.upscaler.runner(device) if ctx.learned_upscale else None
    if ctx.size == ctx.out_size and ctx.settings.chroma_shift == 0.0 and upscale is None:
        return None
    ops = {"resize": torch_ops.resize, "reflect": torch_ops.reflect}
    planes = resample_planes(ctx, **ops)

    def apply(frames, indices, signals):
        if upscale is not None:
            frames = upscale(frames)
        return torch.stack([fn(frames[..., c]) for c, fn in enumerate(planes)], dim=-1)

    return apply


@register_device("sharpen")
def _sharpen(ctx: Ctx, device: torch.device) -> DeviceEffect | None:
    amount = ctx.settings.sharpen
    if amount == 0.0:
        return None

    def apply(frames, indices, signals):
        blur = torch_ops.gaussian_blur(frames).float()
        return torch_ops.to_u8(frames.float() * (1.0 + amount) - blur * amount)

    return apply


@register_device("grain")
def _grain(ctx: Ctx, device: torch.device) -> DeviceEffect | None:
    bank = grain_bank(ctx)
    if bank is None:
        return None
    plus, minus = (torch_ops.upload(b, device).to(torch.int16) for b in bank)

    def apply(frames, indices, signals):
        windows = [grain_window(ctx, int(index)) for index in indices]
        return torch_ops.add_sub(frames, torch.stack([plus[w] for w in windows]),
                                 torch.stack([minus[w] for w in windows]))  # fmt: skip

    return apply


class DevicePostFX(postfx.Chain):
    """:class:`~renderer.fx.postfx.PostFX` for ``uint8 [B, H, W, 3]`` tensors on ``device``."""

    def __init__(self, settings: PostFXConfig, *, size: tuple[int, int], seed: int,
                 track_id: str, device: torch.device,
                 output_size: tuple[int, int] | None = None, upscaler=None) -> None:  # fmt: skip
        self.settings, self.device = settings, torch.device(device)
        self.size = (int(size[0]), int(size[1]))
        self.output_size = (int(output_size[0]), int(output_size[1])) if output_size else self.size
        ctx = Ctx(settings, self.size, self.output_size, int(seed), str(track_id), upscaler)
        chain = [(n, DEVICE_EFFECTS[n](ctx, self.device)) for n in ORDER]
        self._chain = [(n, fx) for n, fx in chain if fx is not None]
        self.warmup_frames = postfx.warmup_for(settings.persistence)

    @property
    def effects(self) -> list[str]:
        return [name for name, _ in self._chain]

    def reset(self) -> None:
        for _, fx in self._chain:
            if hasattr(fx, "reset"):
                fx.reset()

    def apply(self, frames: torch.Tensor, *, frame_indices: np.ndarray,
              signals: Mapping[str, np.ndarray] | None = None) -> torch.Tensor:  # fmt: skip
        """``uint8 [B, H, W, 3]`` at the decode size → ``uint8 [B, H', W', 3]`` at the output
        size, on the device; frames in order (trails carry over until :meth:`reset`)."""
        indices, signals = self.check_batch(frames, frame_indices, signals, uint8=torch.uint8)
        with torch.inference_mode():  # the decoder's frames are inference tensors already
            for _, fx in self._chain:
                frames = fx(frames, indices, signals)
            if tuple(frames.shape[1:3]) != self.output_size[::-1]:
                frames = torch_ops.resize_frames(frames, self.output_size)
            return frames.contiguous()
