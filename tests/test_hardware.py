"""Native bf16 or an emulated one: training/hardware.py announces a bf16 recipe on a CPU that would
emulate it, and the torch decoder's ``auto`` precision picks fp32 there (renderer/decode/cpu_features.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from renderer.decode import cpu_features
from renderer.decode.backends.torch_backend import cpu_supports_bf16
from renderer.decode.decoder import open_decoder
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


def test_the_decoder_wants_bf16_instructions_not_only_onednn() -> None:
    torch = pytest.importorskip("torch")
    onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    assert cpu_supports_bf16(cpu_flags(XEON)) is False  # oneDNN would emulate: fp32 is 2x faster
    assert cpu_supports_bf16(cpu_flags(SAPPHIRE)) is onednn
    assert cpu_features.lacks_native_bf16(cpu_flags(XEON))
    assert not cpu_features.lacks_native_bf16(cpu_flags(SAPPHIRE))


@pytest.mark.parametrize(("cpuinfo", "expected"), [(XEON, "fp32"), (None, None)])
def test_auto_precision_follows_the_cpu_flags(tiny_model_dir, monkeypatch, cpuinfo, expected):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(cpu_features, "cpu_flags", lambda: cpu_flags(cpuinfo) if cpuinfo else None)
    dec = open_decoder(tiny_model_dir, backend="torch", precision="auto")
    if expected is None:  # flags unknown (not Linux x86): oneDNN's word is taken
        expected = "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    assert dec.provider == f"torch:cpu:{expected}"


def test_idle_openmp_threads_sleep_unless_the_user_chose(monkeypatch) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "x")  # recorded, so the test leaves the variable as found
    monkeypatch.delenv("OMP_WAIT_POLICY")
    cpu_features.idle_openmp_threads_sleep()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    cpu_features.idle_openmp_threads_sleep()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_render_cli_sets_the_wait_policy_before_the_decoder_loads(repo_root) -> None:
    """In a fresh process without the variable: after a dry run of the album CLI (which loads no
    decoder) the policy is set and torch is still unloaded, so the policy reaches OpenMP."""
    probe = (
        "import os, sys\n"
        "from renderer.render_album import main\n"
        "main(['-q', '--dry-run', '--config', 'render.yaml'])\n"
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=repo_root, env=env,
                         capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    assert out.stdout.split()[-2:] == ["PASSIVE", "False"]


def probe_faults(probe: str, repo_root, *args: str) -> dict[str, int]:
    """Minor page faults ``probe`` prints (its last word), run in a fresh interpreter with glibc's
    defaults (``default``) and with ``keep_freed_memory`` (``keep``: the probe's ``argv[1]``)."""
    return {
        mode: int(
            subprocess.run(
                [sys.executable, "-c", probe, mode, *args],
                cwd=repo_root,
                check=True,
                capture_output=True,
                text=True,
                timeout=120,
            ).stdout.split()[-1]
        )  # fmt: skip
        for mode in ("default", "keep")
    }


def test_freed_decoder_buffers_are_reused_not_faulted_in_again(repo_root, tiny_model_dir) -> None:
    """The torch decoder frees and allocates megabyte tensors on every call. With glibc's defaults
    they go back to the system and come back page by page; with ``keep_freed_memory`` the heap
    reuses them (measured: the tiny model ~73,000 → ~12,000 faults for three decodes, the shipped
    model at 272×480 ~319,000 → ~85,000)."""
    if not cpu_features.keep_freed_memory():
        pytest.skip("not glibc")
    probe = (
        "import resource, sys\n"
        "import numpy as np\n"
        "from renderer.decode.cpu_features import keep_freed_memory\n"
        "if sys.argv[1] == 'keep':\n"
        "    assert keep_freed_memory()\n"
        "from renderer.decode.decoder import open_decoder\n"
        "dec = open_decoder(sys.argv[2], backend='torch', batch_size=4, precision='fp32')\n"
        "z = np.random.default_rng(0).standard_normal((4, 8, 17, 30)).astype(np.float32)\n"
        "dec.decode(z)\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(3):\n"
        "    dec.decode(z)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    faults = probe_faults(probe, repo_root, str(tiny_model_dir))
    assert faults["keep"] < faults["default"] / 2, faults


def test_large_blocks_freed_in_another_thread_are_reused(repo_root) -> None:
    """Tensors above glibc's 32 MiB mmap ceiling, allocated in a worker thread (the renderer's
    decode thread), were mapped afresh on every allocation: ~16,000 faults per 64 MiB block
    (torch, unlike NumPy, does not ask for huge pages). With ``keep_freed_memory`` they come back
    from the shared heap."""
    if not cpu_features.keep_freed_memory():
        pytest.skip("not glibc")
    probe = (
        "import resource, sys, threading\n"
        "from renderer.decode.cpu_features import keep_freed_memory\n"
        "if sys.argv[1] == 'keep':\n"
        "    assert keep_freed_memory()\n"
        "import torch\n"
        "def work(out):\n"
        "    for _ in range(10):  # 64 MiB each, freed at once; the heap settles\n"
        "        torch.ones(16 << 20)\n"
        "    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "    for _ in range(10):\n"
        "        torch.ones(16 << 20)\n"
        "    out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
        "out = []\n"
        "t = threading.Thread(target=work, args=(out,))\n"
        "t.start(); t.join()\n"
        "print(out[0])\n"
    )
    faults = probe_faults(probe, repo_root)
    assert faults["default"] > 10 * 8000, faults  # each block faulted in page by page
    assert faults["keep"] < faults["default"] / 100, faults
