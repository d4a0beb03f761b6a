"""What the CPU can do for training: native bf16 or an emulated one.

``precision: bf16-mixed`` halves the memory traffic and, on a CPU with bf16 instructions (AMX or
AVX512-BF16), roughly halves the time per iteration. Without them oneDNN emulates bf16 and the
same recipe is several times *slower* than fp32: cpu3's recipe took 1.28 s/iteration on one
thread of a Xeon without them against 0.24 s in fp32 on two. :func:`precision_warning` says so at
the start of a run instead of leaving the user to find out an hour later.
"""

from __future__ import annotations

from collections.abc import Iterable

from renderer.decode.cpu_features import BF16_FLAGS, cpu_flags, lacks_native_bf16

__all__ = ["BF16_FLAGS", "cpu_flags", "precision_warning"]


def precision_warning(
    precision: str, *, accelerator: str = "cpu", flags: Iterable[str] | None = None
) -> str | None:
    """A one-line warning when ``precision`` is bf16 on a CPU known to lack bf16 instructions;
    ``None`` otherwise (fp32, a GPU, or flags that cannot be read)."""
    if "bf16" not in precision or accelerator != "cpu":
        return None
    if not lacks_native_bf16(flags):
        return None
    return (f"warning: precision {precision} on a CPU without bf16 instructions (no "
            f"{' / '.join(sorted(BF16_FLAGS))}): bf16 is emulated and several times slower "
            "than precision: 32-true here")  # fmt: skip
