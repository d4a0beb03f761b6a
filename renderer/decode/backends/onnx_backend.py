"""ONNX Runtime backend with a deliberate execution-provider choice.

``onnxruntime-gpu`` lists ``CUDAExecutionProvider`` as available even where CUDA libraries are
missing; a session asked for it then logs an ERROR line and silently runs on the CPU. So "auto"
asks for CUDA only while ORT's logger is raised to FATAL, reads the provider the session really
got (``session.get_providers()[0]``) and logs one honest INFO line saying which one and why.
"""

from __future__ import annotations

import ctypes
import logging
import os
from pathlib import Path

import numpy as np

from renderer.decode.backends import to_uint8
from renderer.errors import ModelError, RenderError

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
PROVIDERS = ("auto", "cuda", "cpu")
_ORT_WARNING = 2  # ORT's default logger severity (0 verbose … 4 fatal)
_ORT_FATAL = 4


def import_onnxruntime():
    """``onnxruntime``, imported only by this backend, with its telemetry switched off.

    Importing ONNX Runtime 1.31 starts its 1DS telemetry system, which writes a device id and an
    event database under ``~/.cache/Microsoft/DeveloperTools/`` unless ``ORT_DISABLE_TELEMETRY``
    is set when the library loads; the spec forbids telemetry, so it is set here, before the
    import, and the events are switched off as well (``tests/test_offline.py`` checks ``$HOME``
    stays empty and no socket is opened).
    """
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort

    ort.disable_telemetry_events()
    return ort


def cuda_load_error() -> str | None:
    """Why ORT's CUDA provider library cannot be loaded here (``None`` when it loads)."""
    ort = import_onnxruntime()

    lib = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if not lib.is_file():
        return f"{lib.name} is not part of this onnxruntime build"
    try:
        ctypes.CDLL(str(lib))
    except OSError as exc:
        return str(exc)
    return None


def _session(path: Path, providers: list[str], options, *, quiet: bool):
    ort = import_onnxruntime()

    if quiet:
        ort.set_default_logger_severity(_ORT_FATAL)
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    finally:
        if quiet:
            ort.set_default_logger_severity(_ORT_WARNING)


class OnnxBackend:
    """``InferenceSession`` over ``generator.fp32.onnx``; ``provider`` is the one really used."""

    name = "onnx"

    def __init__(
        self,
        path: Path,
        *,
        provider: str = "auto",
        threads: int | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        ort = import_onnxruntime()

        if provider not in PROVIDERS:
            raise RenderError(f"decoder provider {provider!r} unknown; choose one of {PROVIDERS}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or 0)  # 0 = one per physical core
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only from the session itself
        wants_cuda = provider in ("auto", "cuda") and CUDA in ort.get_available_providers()
        try:
            if wants_cuda:
                self.session = _session(path, [CUDA, CPU], options, quiet=True)
            else:
                self.session = _session(path, [CPU], options, quiet=False)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/… classes
            raise ModelError(f"{path}: ONNX Runtime cannot load the model ({exc})") from exc
        self.provider = self.session.get_providers()[0]
        if provider == "cuda" and self.provider != CUDA:
            reason = cuda_load_error() or "CUDAExecutionProvider is not available"
            raise RenderError(f"decoder provider 'cuda' requested but unusable: {reason}")
        if wants_cuda and self.provider != CUDA:
            reason = cuda_load_error() or "no usable CUDA device"
            log.info("decoder: ONNX Runtime on %s (CUDA unusable: %s)", self.provider, reason)
        else:
            log.info("decoder: ONNX Runtime on %s", self.provider)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        # A statically exported model fixes the batch; the decoder pads the last batch to it.
        self.fixed_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        dims = tuple(inp.shape[2:4])
        self.fixed_hw = dims if all(isinstance(d, int) for d in dims) else None
        self.value_range = value_range
        self.threads = options.intra_op_num_threads or os.cpu_count()

    def run(self, latents: np.ndarray) -> np.ndarray:
        """float32 ``[B, C, h, w]`` → uint8 ``[B, H, W, 3]``."""
        images = self.session.run(None, {self.input_name: latents})[0]
        return to_uint8(images, value_range=self.value_range)
