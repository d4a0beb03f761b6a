"""PyTorch backend: ``renderer.decode.generator.build_generator`` + safetensors weights.

On CPUs with native bf16 (AVX-512 BF16 / AMX) it runs under bf16 autocast in channels_last, which
measured 1.8× faster than ONNX Runtime fp32 for our generator at 272×480 (ARCHITECTURE §10), at a
cost of ≈0.35 mean / ≈5 max 8-bit levels against fp32. ``precision="fp32"`` turns that off.
``compile`` (``decoder.compile``) runs the generator through ``torch.compile``
(:mod:`renderer.decode.compile`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from renderer.decode.cpu_features import lacks_native_bf16
from renderer.decode.model_meta import ModelMeta
from renderer.errors import ModelError, RenderError

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")
# Eager CPU convolutions slow down past a few frames per call (cache pressure): measured at
# 272×480, bf16 — batch 1: 50, 2: 55, 4: 56, 8: 44, 16: 39 frames/s. So CPU calls use ≤ 4 frames.
CPU_MICRO_BATCH = 4


def cuda_device():
    """The device a ``cuda`` decoder runs on: the one seam where "CUDA" becomes a device, so
    tests (no GPU here) run the very same CUDA-path code on the CPU device by patching this and
    ``torch.cuda.is_available``."""
    import torch

    return torch.device("cuda")


def cpu_supports_bf16(flags: Iterable[str] | None = None) -> bool:
    """Native bf16 matmul/conv on this CPU: bf16 instructions in its flags (where they can be read,
    :mod:`renderer.decode.cpu_features`) and oneDNN's own check. oneDNN alone also says yes on
    plain AVX-512, where it emulates bf16 at half the speed of fp32."""
    import torch

    if lacks_native_bf16(flags):
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - torch builds without oneDNN
        return False


class TorchBackend:
    """Eager PyTorch generator; ``provider`` reads e.g. ``"torch:cpu:bf16"``."""

    name = "torch"
    fixed_batch = None

    def __init__(
        self,
        meta: ModelMeta,
        weights: Path,
        *,
        provider: str = "auto",
        threads: int | None = None,
        precision: str = "auto",
        compile: str = "off",
    ) -> None:
        import torch
        from safetensors.torch import load_file

        from renderer.decode.compile import maybe_compiled
        from renderer.decode.generator import build_generator

        if precision not in PRECISIONS:
            raise RenderError(
                f"decoder precision {precision!r} unknown; choose one of {PRECISIONS}"
            )
        if provider == "cuda" and not torch.cuda.is_available():
            raise RenderError("decoder provider 'cuda' requested but torch sees no CUDA device")
        on_cuda = provider in ("auto", "cuda") and torch.cuda.is_available()
        device = "cuda" if on_cuda else "cpu"
        if threads and not on_cuda:
            torch.set_num_threads(int(threads))  # process-wide: torch has no per-module pool
        model = build_generator(meta.generator_config)
        from safetensors import SafetensorError

        try:
            state = load_file(str(weights), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"{weights}: not a readable safetensors file ({exc})") from exc
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ModelError(f"{weights}: weights do not fit the generator config ({exc})") from exc
        if precision == "auto":
            precision = "bf16" if device == "cuda" or cpu_supports_bf16() else "fp32"
        self.on_cuda = on_cuda  # frames may stay on the device (renderer/decode/device_pipeline.py)
        self.device = cuda_device() if on_cuda else torch.device("cpu")
        self.precision = precision
        self.memory_format = torch.channels_last
        self.model = model.to(self.device, memory_format=self.memory_format).eval()
        self._forward = maybe_compiled(self.model, mode=compile, device=device, name="generator")
        lo, hi = meta.output_range
        self._offset, self._scale = lo, 255.0 / (hi - lo)
        self.provider = f"torch:{device}:{precision}"
        log.info("decoder: PyTorch on %s (%s, channels_last%s)", device, precision,
                 ", torch.compile" if self._forward is not self.model else "")  # fmt: skip

    def run(self, latents: np.ndarray) -> np.ndarray:
        """float32 ``[B, C, h, w]`` → uint8 ``[B, H, W, 3]``."""
        step = len(latents) if self.on_cuda else CPU_MICRO_BATCH
        if len(latents) > step:
            parts = [self._run(latents[i : i + step]) for i in range(0, len(latents), step)]
            return np.concatenate(parts)
        return self._run(latents)

    def _run(self, latents: np.ndarray) -> np.ndarray:
        return self.run_tensor(latents).cpu().numpy()

    def run_tensor(self, latents: np.ndarray):
        """float32 ``[B, C, h, w]`` → uint8 ``[B, H, W, 3]`` tensor left on :attr:`device`."""
        import torch

        z = torch.from_numpy(latents).to(self.device).contiguous(memory_format=self.memory_format)
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"
            ),
        ):
            images = self._forward(z)
        with torch.inference_mode():
            pixels = ((images.float() - self._offset) * self._scale).round_().clamp_(0, 255)
            return pixels.to(torch.uint8).permute(0, 2, 3, 1).contiguous()
