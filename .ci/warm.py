"""What the test workers would each make at their start, made once while apt installs the browser.

``python .ci/warm.py analysis`` fills the numba JIT cache (``NUMBA_CACHE_DIR``) for the analysis:
librosa compiles its gufuncs when ``librosa.util`` is imported and its dynamic-programming kernels
on first call, ~20 s of one core in every process that gets there first with an empty cache.
``python .ci/warm.py cppn-and-model OUT`` compiles the CPPN kernel and exports the tests' tiny model
into OUT (``NTS_TEST_TINY_MODEL``; ~15 s, during which the other worker would wait on its lock).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def analysis() -> None:
    from renderer.analysis.core import analyze_signal

    sr = 22050
    t = np.arange(8 * sr) / sr
    clicks = np.sin(2 * np.pi * 880 * t) * (np.mod(t, 0.5) < 0.02)
    analyze_signal((clicks + 0.05 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr=sr)


def cppn_and_model(out: Path) -> None:
    from renderer.config.models import CPPNConfig
    from renderer.decode.cppn import build_net, render_frame

    render_frame(build_net(CPPNConfig()), np.zeros((8, 4, 4), np.float32), time=0.0, size=(32, 18))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import export_tiny_model

    partial = out.with_name(out.name + ".partial")
    export_tiny_model(partial).rename(out)


if __name__ == "__main__":
    if sys.argv[1:] == ["analysis"]:
        analysis()
    else:
        cppn_and_model(Path(sys.argv[2]))
