"""Latents → frames: batched generator inference and upscaling to the output size.

``open_decoder(model_dir)`` verifies the model's hashes against ``meta.json`` and opens a backend
(``"onnx"``: ONNX Runtime; ``"torch"``: PyTorch + safetensors; ``"cppn"``: a seeded CPPN evaluated
at the output size, which needs no model folder, see :mod:`renderer.decode.cppn`). :meth:`Decoder.decode` cuts the
latents into batches; when a batch fails with (CUDA) out-of-memory the batch size halves — for the
rest of the run — and decoding goes on. :func:`upscale` resizes uint8 frames with OpenCV, the
fastest measured CPU path (272×480 → 1080p bicubic ≈2.5 ms/frame vs ≈4 ms torch uint8, 20+ ms PIL;
ARCHITECTURE §10); :class:`renderer.encode.frame_writer.FrameWriter` can instead let FFmpeg's scaler do it
(``input_size=``), see ``renderer/throughput.py`` for both measured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from renderer.decode.backends import is_out_of_memory
from renderer.decode.model_meta import ModelMeta, latent_grid, load_model_meta, verify_artefact
from renderer.errors import ModelError, RenderError

log = logging.getLogger(__name__)


def _open_onnx(meta: ModelMeta, *, provider: str, threads: int | None, verify: bool, **_):
    from renderer.decode.backends.onnx_backend import OnnxBackend

    path = verify_artefact(meta, "onnx") if verify else meta.artefact_path("onnx")
    return OnnxBackend(path, provider=provider, threads=threads, value_range=meta.output_range)


def _open_torch(
    meta: ModelMeta,
    *,
    provider: str,
    threads: int | None,
    verify: bool,
    precision: str = "auto",
    compile: str = "off",
):
    from renderer.decode.backends.torch_backend import TorchBackend

    path = verify_artefact(meta, "safetensors") if verify else meta.artefact_path("safetensors")
    return TorchBackend(
        meta, path, provider=provider, threads=threads, precision=precision, compile=compile
    )


def _open_cppn(meta: None, *, provider: str, threads: int | None, **_):
    from renderer.decode.backends.cppn_backend import CPPNBackend

    return CPPNBackend(provider=provider, threads=threads)


BACKENDS: dict[str, Callable] = {"onnx": _open_onnx, "torch": _open_torch, "cppn": _open_cppn}
MODEL_FREE = frozenset({"cppn"})  # backends that bring their own ModelMeta (no model folder)


class Decoder:
    """Batched decoding with out-of-memory back-off.

    ``backend`` is any object with ``run(latents [B, C, h, w] f32) -> uint8 [B, H, W, 3]``,
    ``provider: str`` and ``fixed_batch: int | None``. A *resolution-free* backend
    (``resolution_free = True``, the CPPN) renders at the size it is given: its ``run`` also takes
    ``size``, ``times`` and ``look``, and it names its own ``latent_hw(resolution)``.
    """

    def __init__(self, backend, *, meta: ModelMeta, batch_size: int = 8) -> None:
        if batch_size < 1:
            raise RenderError(f"decoder batch_size must be ≥ 1, got {batch_size}")
        self.backend = backend
        self.meta = meta
        self.fixed_batch = getattr(backend, "fixed_batch", None)
        self.batch_size = self.fixed_batch or int(batch_size)
        self.provider: str = backend.provider
        self.resolution_free = bool(getattr(backend, "resolution_free", False))
        self.tuned: dict = {}  # frame sizes → device_pipeline.BatchChoice (the CUDA path)

    def latent_hw(self, resolution: tuple[int, int]) -> tuple[int, int]:
        """Latent ``(h, w)`` the controller should produce for an output ``(W, H)``."""
        if self.resolution_free:
            return tuple(self.backend.latent_hw(resolution))
        return latent_grid(resolution, scale=self.meta.scale)

    def frame_size(self, resolution: tuple[int, int]) -> tuple[int, int]:
        """``(W, H)`` of decoded frames for an output ``(W, H)``: the output itself for a
        resolution-free backend, else latent grid × scale (FFmpeg or :func:`upscale` enlarges)."""
        if self.resolution_free:
            return int(resolution[0]), int(resolution[1])
        h, w = self.latent_hw(resolution)
        return w * self.scale, h * self.scale

    @property
    def scale(self) -> int:
        """Output pixels per latent cell."""
        return self.meta.scale

    def _check(self, latents: np.ndarray) -> np.ndarray:
        latents = np.asarray(latents)
        channels = self.meta.latent_channels
        if latents.ndim != 4 or latents.shape[1] != channels:
            raise ValueError(f"latents must be [B, {channels}, h, w], got {latents.shape}")
        fixed_hw = getattr(self.backend, "fixed_hw", None)
        if fixed_hw and tuple(latents.shape[2:]) != tuple(fixed_hw):
            raise ModelError(
                f"{self.meta.model_dir}: the ONNX model was exported for latent grid {fixed_hw}, "
                f"not {tuple(latents.shape[2:])}; re-export with dynamic height/width"
            )
        return np.ascontiguousarray(latents, dtype=np.float32)

    def _run(self, batch: np.ndarray, **frame_args) -> np.ndarray:
        if self.resolution_free:
            return self.backend.run(batch, **frame_args)
        if self.fixed_batch and len(batch) < self.fixed_batch:
            # A statically shaped model: pad with copies of the last latent, drop the extra frames.
            pad = np.repeat(batch[-1:], self.fixed_batch - len(batch), axis=0)
            return self.backend.run(np.concatenate([batch, pad]))[: len(batch)]
        return self.backend.run(batch)

    def decode(self, latents: np.ndarray, *, size: tuple[int, int] | None = None,
               times: np.ndarray | None = None, look=None) -> np.ndarray:  # fmt: skip
        """float32 ``[N, C, h, w]`` → uint8 ``[N, scale·h, scale·w, 3]``, in batches.

        Resolution-free backends render ``[N, H, W, 3]`` at ``size = (W, H)`` (required), at frame
        ``times [N]`` in seconds (default 0) with the backend-specific ``look``; the generator
        backends ignore the three."""
        latents = self._check(latents)
        if self.resolution_free and size is None:
            raise ValueError(f"decoder backend on {self.provider} renders at a size: pass size=")
        out = self._batched(latents, self._run, size=size, times=times, look=look)
        if not out:
            h, w = latents.shape[2:]
            if self.resolution_free:
                w, h = size
                return np.empty((0, h, w, 3), np.uint8)
            return np.empty((0, h * self.scale, w * self.scale, 3), np.uint8)
        return np.concatenate(out) if len(out) > 1 else out[0]

    @property
    def keeps_frames_on_device(self) -> bool:
        """Whether :meth:`decode_tensor` can leave frames on a CUDA device (the torch backend on
        CUDA): the render then runs the post-fx there too (``renderer/decode/device_pipeline.py``)."""
        return bool(getattr(self.backend, "on_cuda", False)) and hasattr(self.backend, "run_tensor")

    def decode_tensor(self, latents: np.ndarray):
        """:meth:`decode` into a uint8 ``[N, H, W, 3]`` tensor on the backend's device (no copy
        to the host), with the same batching and out-of-memory back-off."""
        import torch

        if not hasattr(self.backend, "run_tensor"):
            raise RenderError(f"decoder on {self.provider} cannot keep frames on a device")
        latents = self._check(latents)
        out = self._batched(latents, lambda batch: self.backend.run_tensor(batch))
        if not out:
            h, w = latents.shape[2:]
            return torch.empty((0, h * self.scale, w * self.scale, 3), dtype=torch.uint8,
                               device=self.backend.device)  # fmt: skip
        return torch.cat(out) if len(out) > 1 else out[0]

    def _batched(self, latents: np.ndarray, run: Callable, *, size=None, times=None, look=None
                 ) -> list:  # fmt: skip
        """``run`` over batches of :attr:`batch_size` latents, halving the batch size on (CUDA)
        out-of-memory; the per-batch outputs in order."""
        out: list = []
        start = 0
        while start < len(latents):
            batch = latents[start : start + self.batch_size]
            args = {}
            if self.resolution_free:
                args = {"size": size, "look": look,
                        "times": None if times is None else times[start : start + len(batch)]}  # fmt: skip
            try:
                frames = run(batch, **args)
            except Exception as exc:
                if not is_out_of_memory(exc) or self.fixed_batch:
                    raise
                if self.batch_size == 1:
                    raise RenderError(
                        f"decoder out of memory at batch size 1 on {self.provider}: {exc}"
                    ) from exc
                self.batch_size //= 2
                log.warning("decoder out of memory; batch size halved to %d", self.batch_size)
                continue
            out.append(frames)
            start += len(batch)
        return out


def open_decoder(
    model_dir: str | Path,
    *,
    backend: str = "onnx",
    provider: str = "auto",
    batch_size: int = 8,
    threads: int | None = None,
    verify: bool = True,
    precision: str = "auto",
    compile: str = "off",
) -> Decoder:
    """Open the generator in ``model_dir`` (``meta.json`` + artefacts) with a named backend.

    ``provider``: ``"auto"`` (CUDA when it really loads, else CPU), ``"cuda"`` (error if unusable)
    or ``"cpu"``. ``threads``: intra-op threads (``None``: the backend's default). ``precision``
    (torch only): ``"auto"`` (bf16 where the CPU/GPU supports it), ``"fp32"``, ``"bf16"``.
    ``compile`` (torch only): ``"off"``, ``"auto"`` or ``"on"`` (:mod:`renderer.decode.compile`).
    Raises :class:`ModelError` on a missing/corrupt model or a hash mismatch. ``"cppn"``
    ignores ``model_dir``, ``verify`` and ``precision``.
    """
    try:
        opener = BACKENDS[backend]
    except KeyError:
        raise ModelError(
            f"decoder backend {backend!r} unknown; choose one of {', '.join(BACKENDS)}"
        ) from None
    if backend in MODEL_FREE:
        impl = opener(None, provider=provider, threads=threads)
        return Decoder(impl, meta=impl.meta, batch_size=batch_size)
    meta = load_model_meta(model_dir)
    impl = opener(
        meta,
        provider=provider,
        threads=threads,
        verify=verify,
        precision=precision,
        compile=compile,
    )
    return Decoder(impl, meta=meta, batch_size=batch_size)


INTERPOLATIONS = {
    "cubic": cv2.INTER_CUBIC,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "lanczos": cv2.INTER_LANCZOS4,
}


def upscale(
    frames: np.ndarray,
    *,
    size: tuple[int, int],
    method: str = "cubic",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Resize uint8 ``[B, h, w, 3]`` → ``[B, H, W, 3]`` with ``size = (W, H)`` (OpenCV).

    ``method``: ``"cubic"`` (default), ``"linear"``, ``"area"``, ``"lanczos"``. ``out`` may be a
    preallocated ``[B, H, W, 3]`` array to avoid one allocation per batch. Same size: returned as is.
    """
    width, height = int(size[0]), int(size[1])
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 [B, h, w, 3], got {frames.dtype} {frames.shape}")
    if frames.shape[1:3] == (height, width):
        return frames
    try:
        interpolation = INTERPOLATIONS[method]
    except KeyError:
        raise ValueError(
            f"upscale method {method!r}; choose one of {list(INTERPOLATIONS)}"
        ) from None
    if out is None:
        out = np.empty((len(frames), height, width, 3), np.uint8)
    for i, frame in enumerate(frames):
        cv2.resize(frame, (width, height), dst=out[i], interpolation=interpolation)
    return out
