"""training/hardware.py: a bf16 recipe on a CPU that would emulate bf16 is announced."""

from __future__ import annotations

from training.hardware import cpu_flags, precision_warning

XEON = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse avx2 avx512f avx512bw\n"
SAPPHIRE = XEON.replace("avx512bw", "avx512bw avx512_bf16 amx_bf16 amx_tile")


def test_flags_are_read_from_cpuinfo_text() -> None:
    assert cpu_flags(XEON) == {"fpu", "sse", "avx2", "avx512f", "avx512bw"}
    assert cpu_flags("processor\t: 0\n") is None  # no flags line: unknown, not "none"


def test_bf16_without_the_instructions_warns_and_names_the_remedy() -> None:
    warning = precision_warning("bf16-mixed", flags=cpu_flags(XEON))
    assert warning is not None
    assert "bf16-mixed" in warning and "emulated" in warning and "32-true" in warning


def test_no_warning_where_bf16_is_native_or_not_used() -> None:
    assert precision_warning("bf16-mixed", flags=cpu_flags(SAPPHIRE)) is None
    assert precision_warning("32-true", flags=cpu_flags(XEON)) is None
    assert precision_warning("bf16-mixed", accelerator="gpu", flags=cpu_flags(XEON)) is None
