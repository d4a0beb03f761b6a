"""``torch.compile`` for the CPU render path, falling back to eager where it cannot build.

The generator and the learned upscaler spend much of their CPU time in elementwise passes over
large tensors (norms, activations, padding; the upscaler's residual add, clamp and uint8
interleave). Inductor fuses those passes into the convolutions' neighbours; measured on the
development CPU (2 cores, AVX-512): the upscaler 1.6× faster with identical bytes, the generator
about 1.15× faster within 1e-5 of eager (`benchmarks/compile_speed.py`).

``decoder.compile`` in ``render.yaml``: ``auto`` (the default) compiles on the CPU where a C++
compiler and the Python headers are found and ``NTS_TORCH_COMPILE`` is not ``0``; ``on`` always
tries (CUDA included); ``off`` never. A compile that fails at its first call is logged once and
the module runs eager from then on, so the render goes on either way. Inductor's generated code
goes to a private temporary folder, removed at exit, unless ``TORCHINDUCTOR_CACHE_DIR`` is set.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

COMPILE_MODES = ("auto", "on", "off")
ENV = "NTS_TORCH_COMPILE"  # "0" turns ``auto`` off (the test suite does, to save compile time)
CXX_NAMES = ("c++", "g++", "clang++")


def compiler_available() -> bool:
    """A C++ compiler on ``PATH`` (or ``$CXX``) and ``Python.h``: what Inductor builds with."""
    cxx = os.environ.get("CXX")
    found = shutil.which(cxx) if cxx else any(shutil.which(n) for n in CXX_NAMES)
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    return bool(found) and headers.is_file()


def wants_compile(mode: str, device: str = "cpu") -> bool:
    """Whether ``mode`` (one of :data:`COMPILE_MODES`) compiles on ``device`` here."""
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile mode {mode!r} unknown; choose one of {COMPILE_MODES}")
    if mode == "auto":
        return (
            str(device).startswith("cpu")
            and os.environ.get(ENV, "1") != "0"
            and compiler_available()
        )
    return mode == "on"


def _private_cache() -> None:
    if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
        folder = tempfile.mkdtemp(prefix="nts-inductor-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = folder


class Compiled:
    """``fn`` compiled by ``torch.compile``; after a failed compile, ``fn`` itself."""

    def __init__(self, fn: Callable, *, name: str) -> None:
        import torch

        _private_cache()
        self.eager, self.name = fn, name
        self._compiled: Callable | None = torch.compile(fn)
        self.active = True

    def __call__(self, *args: Any) -> Any:
        if self._compiled is not None:
            try:
                return self._compiled(*args)
            except Exception as exc:  # Inductor/compiler failures surface at the first call
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                log.warning("%s: torch.compile failed (%s: %s); running eager",
                            self.name, type(exc).__name__, reason)  # fmt: skip
                self._compiled, self.active = None, False
        return self.eager(*args)


def maybe_compiled(fn: Callable, *, mode: str, device: str, name: str) -> Callable:
    """``Compiled(fn)`` where :func:`wants_compile` says so, else ``fn``."""
    return Compiled(fn, name=name) if wants_compile(mode, device) else fn
