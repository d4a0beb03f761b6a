"""Post-processing of decoded frames: grading, trails, vignette at the decode size; enlargement
with chromatic aberration, sharpening and grain at the output size.

The chain is :data:`~renderer.fx.registry.ORDER`: ``tone → lut → colour`` (:mod:`.colour_fx`:
exposure held to the preset's target, soft knees instead of clipping, hue-preserving chroma gain
held inside the preset's saturation range), ``persistence → vignette`` (here), then ``resample →
sharpen → grain`` (:mod:`.output_fx`). Per-pixel work is uint8 OpenCV on tables and masks where
it can be, float32 only for the Oklab step at the small decode size.

Determinism and chunking. The auto grade is a function of each frame alone, and grain is drawn
from a bank generated once from ``(seed, track_id)`` with each frame's tile and offset picked from
``(seed, track_id, frame index)``, so any frame can be rendered alone. The only stateful effect is
``persistence`` (trails: ``s ← p·s + (1−p)·x``, kept in float32). A chunk that starts at frame
``a`` must first run ``warmup_frames`` frames before ``a`` (their output is discarded): the state
then differs from the unchunked one by at most ``255·p**warmup_frames < 0.5`` levels, so the
chunk's frames equal the unchunked render exactly or — when a value sits on a rounding boundary
— within one 8-bit level (tested).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import cv2
import numpy as np

from renderer.config.models import PostFXConfig
from renderer.fx import colour_fx, output_fx  # noqa: F401  (they register their effects)
from renderer.fx.grading import vignette_mask
from renderer.fx.output_fx import GRAIN_BANK, GRAIN_PAD, GRAIN_SIGMA
from renderer.fx.registry import EFFECTS, ORDER, OUTPUT_STAGE, Ctx, Effect, register

__all__ = ["EFFECTS", "GRAIN_BANK", "GRAIN_PAD", "GRAIN_SIGMA", "ORDER", "RESIDUAL", "Chain",
           "PostFX", "average_subframes", "warmup_for"]  # fmt: skip

RESIDUAL = 1.0 / 512.0  # state weight that is below half an 8-bit level
MAX_PERSISTENCE = 0.98


class _Trail:
    """Trailing persistence ``s ← p·s + (1−p)·x``; the state is float32 so it decays exactly."""

    def __init__(self, decay: float) -> None:
        self.decay = decay
        self.state: np.ndarray | None = None  # [H, W, 3] float32; None until the first frame

    def __call__(self, frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        if self.state is None:
            self.state = frame.astype(np.float32)
        else:
            cv2.accumulateWeighted(frame, self.state, 1.0 - self.decay)
        return cv2.convertScaleAbs(self.state)  # round + saturate to uint8

    def reset(self) -> None:
        self.state = None


@register("persistence")
def _persistence(ctx: Ctx) -> Effect | None:
    decay = ctx.settings.persistence
    return _Trail(decay) if decay > 0.0 else None


@register("vignette")
def _vignette(ctx: Ctx) -> Effect | None:
    amount = ctx.settings.vignette
    if amount == 0.0:
        return None
    mask = vignette_mask(ctx.size, amount=amount)

    def apply(frame: np.ndarray, index: int, signals: Mapping[str, float]) -> np.ndarray:
        return cv2.multiply(frame, mask, scale=1.0 / 255.0)

    return apply


def warmup_for(persistence: float) -> int:
    """Frames before a chunk start so the trail state residual ``p**n`` is below 1/512."""
    if persistence <= 0.0:
        return 0
    # Smallest n with p**n strictly below the bound (p = 0.5 → 10, 0.9 → 60, 0.98 → 309).
    return math.floor(math.log(RESIDUAL) / math.log(persistence)) + 1


class Chain:
    """What the CPU chain (:class:`PostFX`) and the device one (``renderer/fx/device_fx.py``)
    share: the active effects ``_chain`` in order, their reset and the checks of a batch."""

    size: tuple[int, int]
    _chain: list

    @property
    def effects(self) -> list[str]:
        """Names of the active effects, in order."""
        return [name for name, _ in self._chain]

    @property
    def output_stage(self) -> list[str]:
        """Active effects that run at the output size."""
        return [name for name in self.effects if name in OUTPUT_STAGE]

    def reset(self) -> None:
        """Forget trail state (call before a chunk's warm-up frames)."""
        for _, fx in self._chain:
            if hasattr(fx, "reset"):
                fx.reset()

    def check_batch(self, frames, frame_indices, signals, *, uint8) -> tuple[np.ndarray, Mapping]:
        """Frames ``[B, H, W, 3]`` of dtype ``uint8`` at :attr:`size` (an array or a tensor),
        their indices ``[B]`` and signals ``{name: [B]}``; returns the indices and signals."""
        width, height = self.size
        if (
            frames.dtype != uint8
            or frames.ndim != 4
            or tuple(frames.shape[1:]) != (height, width, 3)
        ):
            raise ValueError(f"frames must be uint8 [B, {height}, {width}, 3], got {frames.dtype} "
                             f"{tuple(frames.shape)}")  # fmt: skip
        indices = np.asarray(frame_indices)
        if indices.shape != (len(frames),):
            raise ValueError(f"frame_indices must be [{len(frames)}], got {indices.shape}")
        signals = signals or {}
        for name, values in signals.items():
            if np.shape(values) != (len(frames),):
                raise ValueError(f"signal {name!r} must be [{len(frames)}], got {np.shape(values)}")
        return indices, signals


class PostFX(Chain):
    """The configured effect chain for one track: frames arrive at the decode ``size`` and leave
    at ``output_size`` (both ``(W, H)``; the output size defaults to the decode size), enlarged
    by ``upscaler`` (the model's :class:`~renderer.decode.upscaler.UpscalerSpec`) where given."""

    def __init__(
        self,
        settings: PostFXConfig,
        *,
        size: tuple[int, int],
        seed: int,
        track_id: str,
        output_size: tuple[int, int] | None = None,
        upscaler=None,
    ) -> None:
        self.settings = settings
        self.size = (int(size[0]), int(size[1]))
        self.output_size = (int(output_size[0]), int(output_size[1])) if output_size else self.size
        ctx = Ctx(settings, self.size, self.output_size, int(seed), str(track_id), upscaler)
        self._chain = [(n, fx) for n in ORDER if (fx := EFFECTS[n](ctx)) is not None]
        self.warmup_frames = warmup_for(settings.persistence)
        self._buffer: np.ndarray | None = None

    def apply(
        self,
        frames: np.ndarray,
        *,
        frame_indices: np.ndarray,
        signals: Mapping[str, np.ndarray] | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Process ``uint8 [B, H, W, 3]`` frames at the decode size with their track frame indices
        ``[B]`` → ``uint8 [B, H', W', 3]`` at the output size.

        ``signals`` maps names (``"pulse"``, …) to per-frame values ``[B]`` in [0, 1]. Frames must
        be passed in order; stateful effects carry over between calls until :meth:`reset`.
        ``out`` (may be ``frames`` itself when the two sizes agree) receives the result: reusing
        buffers saves the page faults of a fresh 1080p batch, which cost as much as the effects
        at the decode size (measured).
        """
        indices, signals = self.check_batch(frames, frame_indices, signals, uint8=np.uint8)
        out_w, out_h = self.output_size
        shape = (len(frames), out_h, out_w, 3)
        if out is None:
            out = np.empty(shape, np.uint8)
        elif out.shape != shape or out.dtype != np.uint8:
            raise ValueError(f"out must be uint8 {shape}, got {out.dtype} {out.shape}")
        for i, frame in enumerate(frames):
            per_frame = {name: float(values[i]) for name, values in signals.items()}
            for _, fx in self._chain:
                frame = fx(frame, int(indices[i]), per_frame)
            if frame.shape[:2] != (out_h, out_w):  # no effect enlarged it (e.g. all switched off)
                frame = cv2.resize(frame, self.output_size, interpolation=cv2.INTER_CUBIC)
            out[i] = frame
        return out

    def output_buffer(self, n: int) -> np.ndarray:
        """A ``uint8 [n, H', W', 3]`` buffer at the output size owned by this chain, for ``out=``:
        the same memory every call (so the next call that uses it overwrites it). A fresh 1080p
        batch costs ≈80 ms of page faults per frame on the development machine, more than every
        effect together; a reused one costs nothing."""
        out_w, out_h = self.output_size
        if self._buffer is None or len(self._buffer) < n:
            self._buffer = np.empty((n, out_h, out_w, 3), np.uint8)
        return self._buffer[:n]


def average_subframes(frames, *, factor: int):
    """Oversampling (motion blur): mean of each run of ``factor`` frames, rounded.

    ``uint8 [B·factor, H, W, 3]`` rendered at ``factor``× the frame rate → ``uint8 [B, H, W, 3]``
    (a numpy array, or a torch tensor on its device: the CUDA path). Apply before
    :meth:`PostFX.apply`, so grain and trails stay per output frame.
    """
    if factor < 1 or len(frames) % factor:
        raise ValueError(f"{len(frames)} frames cannot be averaged in groups of factor={factor}")
    if factor == 1:
        return frames
    groups = frames.reshape(-1, factor, *frames.shape[1:])
    if isinstance(frames, np.ndarray):
        return ((groups.astype(np.uint16).sum(axis=1) + factor // 2) // factor).astype(np.uint8)
    import torch

    return ((groups.to(torch.int32).sum(dim=1) + factor // 2) // factor).to(torch.uint8)
