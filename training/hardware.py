"""What the CPU can do for training: native bf16 or an emulated one.

``precision: bf16-mixed`` halves the memory traffic and, on a CPU with bf16 instructions (AMX or
AVX512-BF16), roughly halves the time per iteration. Without them oneDNN emulates bf16 and the
same recipe is several times *slower* than fp32: cpu3's recipe took 1.28 s/iteration on one
thread of a Xeon without them against 0.24 s in fp32 on two. :func:`precision_warning` says so at
the start of a run instead of leaving the user to find out an hour later.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # /proc/cpuinfo names (Linux)


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str] | None:
    """The ``flags`` of ``/proc/cpuinfo`` (or of the text given); ``None`` where unknown."""
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


def precision_warning(
    precision: str, *, accelerator: str = "cpu", flags: Iterable[str] | None = None
) -> str | None:
    """A one-line warning when ``precision`` is bf16 on a CPU known to lack bf16 instructions;
    ``None`` otherwise (fp32, a GPU, or flags that cannot be read)."""
    if "bf16" not in precision or accelerator != "cpu":
        return None
    flags = cpu_flags() if flags is None else frozenset(flags)
    if flags is None or flags & BF16_FLAGS:
        return None
    return (f"warning: precision {precision} on a CPU without bf16 instructions (no "
            f"{' / '.join(sorted(BF16_FLAGS))}): bf16 is emulated and several times slower "
            "than precision: 32-true here")  # fmt: skip
