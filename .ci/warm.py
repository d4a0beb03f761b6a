"""What the test workers would each make at their start, made once before the tests, in three
processes that share the two cores (each one alone is a chain of one core's work).

``python .ci/warm.py analysis`` fills the numba JIT cache (``NUMBA_CACHE_DIR``) for the analysis:
librosa compiles its gufuncs when ``librosa.util`` is imported and its dynamic-programming kernels
on first call, ~15 s of one core in every process that gets there first with an empty cache.
``python .ci/warm.py cppn`` compiles the CPPN kernel into the same cache (~5 s).
``python .ci/warm.py model OUT`` exports the tests' tiny model into OUT (``NTS_TEST_TINY_MODEL``;
~15 s, during which the other worker would wait on its lock).
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


def cppn() -> None:
    from renderer.config.models import CPPNConfig
    from renderer.decode.cppn import build_net, render_frame

    render_frame(build_net(CPPNConfig()), np.zeros((8, 4, 4), np.float32), time=0.0, size=(32, 18))


def model(out: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import export_tiny_model

    partial = out.with_name(out.name + ".partial")
    export_tiny_model(partial).rename(out)


if __name__ == "__main__":
    match sys.argv[1:]:
        case ["analysis"]:
            analysis()
        case ["cppn"]:
            cppn()
        case ["model", out]:
            model(Path(out))
        case _:
            sys.exit("usage: python .ci/warm.py analysis | cppn | model OUT")
