"""Decoder backends (registered by name): ``onnx`` (ONNX Runtime) and ``torch`` (PyTorch).

A backend turns float32 latents ``[B, C, h, w]`` into uint8 frames ``[B, scale·h, scale·w, 3]``.
:mod:`renderer.decode.decoder` adds batching, out-of-memory handling and the shared API.
"""

from __future__ import annotations

import re

import numpy as np

# Messages of CUDA allocation failures: torch.cuda.OutOfMemoryError, ORT's BFC arena and CUDA
# provider ("Failed to allocate memory", "CUDA failure 2: out of memory"), cuDNN workspace errors.
_OOM_RE = re.compile(
    r"out of memory|failed to allocate memory|bfcarena|cuda_error_out_of_memory|"
    r"cudnn_status_alloc_failed|cublas_status_alloc_failed",
    re.IGNORECASE,
)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a (CUDA) out-of-memory failure from torch or ONNX Runtime."""
    if type(exc).__name__ == "OutOfMemoryError" or isinstance(exc, MemoryError):
        return True
    return bool(_OOM_RE.search(str(exc)))


def to_uint8(images: np.ndarray, *, value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """float ``[B, 3, H, W]`` in ``value_range`` → contiguous uint8 ``[B, H, W, 3]`` (rounded)."""
    lo, hi = value_range
    scale = 255.0 / (hi - lo)
    out = np.rint((images - lo) * scale)
    np.clip(out, 0.0, 255.0, out=out)
    return np.ascontiguousarray(out.astype(np.uint8).transpose(0, 2, 3, 1))
