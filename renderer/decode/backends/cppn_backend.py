"""The ``cppn`` decoder backend: latents ``[B, 8, 4, 4]`` → uint8 ``[B, H, W, 3]`` at any
output size, by evaluating a seeded CPPN per pixel (:mod:`renderer.decode.cppn`).

It needs no model folder: its :class:`~renderer.decode.model_meta.ModelMeta` (anchors, pulse
axes, a hash of the network's code) comes from :func:`renderer.decode.cppn.cppn_meta`. Unlike
the generator backends it is *resolution-free* — :meth:`run` takes the output ``size`` and the
frame ``times``, and its latent grid does not depend on the resolution, so the same latent gives
the same picture at any size. The look (:class:`~renderer.config.models.CPPNConfig`) can change
per call: a track's preset or block carries its own.
"""

from __future__ import annotations

import numpy as np

from renderer.config.models import CPPNConfig
from renderer.decode.cppn import LATENT_SHAPE, build_net, cppn_meta, render_frames
from renderer.errors import ModelError


class CPPNBackend:
    """CPU backend (numba threads) with the ``run`` interface of the generator backends plus the
    ``size``/``times``/``look`` keywords of resolution-free backends."""

    fixed_batch = None
    resolution_free = True

    def __init__(self, *, provider: str = "auto", threads: int | None = None,
                 look: CPPNConfig | None = None) -> None:  # fmt: skip
        if provider not in ("auto", "cpu", "cuda"):
            raise ModelError(f"execution provider {provider!r}; choose auto, cuda or cpu")
        if provider == "cuda":
            raise ModelError("decoder backend 'cppn' runs on the CPU only (provider: cuda asked)")
        import numba

        self.threads = min(int(threads), numba.config.NUMBA_NUM_THREADS) if threads else None
        self.provider = f"cpu (numba, {self.threads or numba.config.NUMBA_NUM_THREADS} threads)"
        self.look = look or CPPNConfig()
        self.meta = cppn_meta()

    @staticmethod
    def latent_hw(resolution: tuple[int, int]) -> tuple[int, int]:
        """The latent grid for any output size: fixed (resolution independence)."""
        return LATENT_SHAPE[1:]

    def run(self, latents: np.ndarray, *, size: tuple[int, int], times: np.ndarray | None = None,
            look: CPPNConfig | None = None) -> np.ndarray:  # fmt: skip
        """float32 ``[B, 8, 4, 4]``, ``size = (W, H)``, ``times [B]`` seconds (default 0) →
        uint8 ``[B, H, W, 3]``."""
        import numba

        if self.threads:  # numba's thread count is per calling thread (the decode worker)
            numba.set_num_threads(self.threads)
        if times is None:
            times = np.zeros(len(latents))
        return render_frames(build_net(look or self.look), latents, times=times, size=size)
