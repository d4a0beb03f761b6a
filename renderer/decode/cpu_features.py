"""What this CPU's instruction set offers the decoder and the trainer: native bf16 or not.

oneDNN runs bf16 convolutions on any AVX-512 CPU, but only AVX512-BF16 and AMX have bf16
instructions; elsewhere it converts to fp32 and back around every kernel. For our generator that
emulation is about *twice as slow* as fp32 (Xeon with AVX-512 but no bf16 instructions, 272×480:
7.7 against 15.0 frames/s, DEVLOG 2026-12-07), and training several times slower. So "bf16 where the
CPU supports it" has to ask the CPU's flags, not oneDNN.

And how its OpenMP threads wait: a render decodes (torch/ONNX Runtime, OpenMP) while FFmpeg
encodes on the same cores, so decoder threads that spin between kernels take cycles from the
encoder (:func:`idle_openmp_threads_sleep`). And how freed memory is kept: every frame allocates
and frees buffers of megabytes, which glibc maps and unmaps each time, so the kernel zero-fills
fresh pages for every one of them (:func:`keep_freed_memory`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterable
from pathlib import Path

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo names (Linux, x86)


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str] | None:
    """The ``flags`` of ``/proc/cpuinfo`` (or of the text given); ``None`` where unknown (no such
    file, or no ``flags`` line, as on ARM, whose ``Features`` name other things)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return None


def lacks_native_bf16(flags: Iterable[str] | None = None) -> bool:
    """True only where the flags are known and name no bf16 instruction set (``flags`` default:
    this machine's); unknown flags are not taken as a lack."""
    known = cpu_flags() if flags is None else frozenset(flags)
    return known is not None and not known & BF16_FLAGS


def idle_openmp_threads_sleep() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` for this process and its children, unless the user set a policy.

    OpenMP's default lets idle threads spin for a while before they sleep; beside FFmpeg on the
    same cores that spinning is stolen encode time. The runtime reads the variable once, when it
    loads, so this must run before torch or ONNX Runtime is imported: the render CLIs call it
    first thing, the pooled workers before they open their decoder. Frames do not change.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# glibc's mallopt() parameters (malloc.h)
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX, M_ARENA_MAX = -1, -2, -4, -8
TRIM_THRESHOLD = 1 << 30  # free heap kept before it is returned to the system
TOP_PAD = 64 << 20  # the heap grows by at least this much at a time


def keep_freed_memory() -> bool:
    """Let glibc reuse freed blocks of any size instead of unmapping them (``mallopt``).

    By default glibc serves blocks above 128 KiB–32 MiB with ``mmap`` and returns them with
    ``munmap`` when freed, so the decoder's and the post-effects' per-frame tensors (0.5–200 MB at
    a batch of eight 272×480 decodes) cost a page fault per 4 KiB every time. Raising the mmap
    threshold to its 32 MiB ceiling (DEVLOG 2026-12-07, third session) left every larger block and
    every block of another thread's arena (the decode thread's; an arena heap holds at most
    64 MiB) mapped afresh: 8 million faults per ``nts-profile`` run. So: no ``mmap`` for blocks
    (``M_MMAP_MAX`` 0), one arena for all threads (``M_ARENA_MAX`` 1: the main heap, which grows
    without a size limit), freed heap kept up to ``TRIM_THRESHOLD``: 0.8 million faults, 12 % less
    CPU and a lower peak RSS (DEVLOG 2026-12-08). Must run before other threads allocate (the
    render CLIs call it first thing). False where the C library is not glibc (nothing is changed
    there). Frames do not change.
    """
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS, Windows)
        return False
    settings = ((M_MMAP_MAX, 0), (M_ARENA_MAX, 1), (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
                (M_TOP_PAD, TOP_PAD))  # fmt: skip
    return all([bool(mallopt(param, value)) for param, value in settings])


def prepare_render_process() -> None:
    """What every process that decodes beside FFmpeg sets first, before a decoder library loads:
    :func:`idle_openmp_threads_sleep` and :func:`keep_freed_memory` (the render CLIs, the pooled
    workers)."""
    idle_openmp_threads_sleep()
    keep_freed_memory()
