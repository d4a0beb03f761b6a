"""Fill the numba JIT cache (``NUMBA_CACHE_DIR``) once, while apt installs the browser.

librosa compiles its gufuncs when ``librosa.util`` is imported and its dynamic-programming kernels
on first call; with an empty cache that costs ~20 s of one core in every process that gets there
first — both test workers and any render they start. Done here, they all load the cached code.
"""

from __future__ import annotations

import numpy as np

from renderer.analysis.core import analyze_signal
from renderer.config.models import CPPNConfig
from renderer.decode.cppn import build_net, render_frame

SR = 22050
t = np.arange(8 * SR) / SR
clicks = (np.sin(2 * np.pi * 880 * t) * (np.mod(t, 0.5) < 0.02)).astype(np.float32)
analyze_signal(clicks + 0.05 * np.sin(2 * np.pi * 220 * t).astype(np.float32), sr=SR)
render_frame(build_net(CPPNConfig()), np.zeros((8, 4, 4), np.float32), time=0.0, size=(32, 18))
