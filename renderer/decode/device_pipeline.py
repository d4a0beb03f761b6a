"""The CUDA path of a render (issue 13): decode, enlargement and post-fx stay on the GPU in torch,
and each batch reaches the host once, as the final uint8 frames that are hashed and encoded.

:class:`renderer.run.frames.TrackRenderer` takes this path when its decoder keeps frames on a
device (:attr:`renderer.decode.decoder.Decoder.keeps_frames_on_device`: the torch backend on
CUDA). Stages: :meth:`~renderer.decode.decoder.Decoder.decode_tensor` (latents → uint8
``[N, h, w, 3]`` on the device) → :func:`renderer.fx.postfx.average_subframes` →
:class:`renderer.fx.device_fx.DevicePostFX` (grading at the decode size, the enlargement with the
chromatic fringe, sharpening and grain at the output size) → :func:`to_host`. The only other
device→host traffic is the auto grade's measuring samples (``device_fx``).

Batch size: :func:`tune_batch` renders one frame through the whole chain, reads the peak device
memory it took (``torch.cuda.max_memory_allocated``) and the free memory
(``torch.cuda.mem_get_info``), and :func:`autotune_batch` takes the largest batch that fits in
:data:`MEMORY_BUDGET` of what is free, up to :data:`MAX_BATCH`. A batch that still runs out of
memory halves (the decoder's back-off), so the estimate only has to be close.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

MAX_BATCH = 64  # frames per batch: past this a GPU gains nothing and a chunk's first frame waits
# Share of the free device memory one batch may take: the rest is left to the allocator's
# fragmentation, NVENC's surfaces and whatever else shares the GPU.
MEMORY_BUDGET = 0.5


@dataclass(frozen=True)
class BatchChoice:
    """An autotuned batch and the measurements it came from (bytes)."""

    batch: int
    free_bytes: int
    per_frame_bytes: int


def autotune_batch(*, free_bytes: int, per_frame_bytes: int, budget: float = MEMORY_BUDGET,
                   cap: int = MAX_BATCH) -> int:  # fmt: skip
    """Frames per batch: ``floor(budget · free / per_frame)`` clamped to ``[1, cap]``."""
    if free_bytes < 0 or not 0.0 < budget <= 1.0 or cap < 1:
        raise ValueError(f"autotune_batch: free_bytes={free_bytes}, budget={budget}, cap={cap}")
    if per_frame_bytes <= 0:
        return cap
    return max(1, min(cap, int(free_bytes * budget) // int(per_frame_bytes)))


def free_memory(device) -> int:
    """Bytes a new allocation can take on ``device``: free on the device plus what torch's
    caching allocator holds unused."""
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    return int(free) + max(0, int(cached))


def tune_batch(device, probe: Callable[[int], object], *, cap: int = MAX_BATCH) -> BatchChoice:
    """Run ``probe(1)`` (one frame through decode and post-fx), measure the peak device memory
    it allocated above what was allocated before, and choose the batch (:func:`autotune_batch`)."""
    import torch

    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    probe(1)
    torch.cuda.synchronize(device)
    per_frame = int(torch.cuda.max_memory_allocated(device)) - int(base)
    free = free_memory(device)
    batch = autotune_batch(free_bytes=free, per_frame_bytes=per_frame, cap=cap)
    log.info("device batch %d: %.0f MiB a frame, %.0f MiB free", batch, per_frame / 2**20,
             free / 2**20)  # fmt: skip
    return BatchChoice(batch=batch, free_bytes=free, per_frame_bytes=per_frame)


def to_host(frames) -> np.ndarray:
    """The final uint8 frames ``[B, H, W, 3]`` of a batch → a host array (the one full copy)."""
    return frames.cpu().numpy()


class DeviceFrames:
    """One track's frames on the decoder's device: :meth:`decode` (latents → averaged uint8
    frames), :meth:`grade` (post-fx) and the batch tuning, for ``TrackRenderer``."""

    def __init__(self, decoder, *, postfx_settings, size: tuple[int, int],
                 output_size: tuple[int, int], seed: int, track_id: str, oversample: int,
                 upscaler=None) -> None:  # fmt: skip
        from renderer.fx.device_fx import DevicePostFX

        if not decoder.keeps_frames_on_device:
            raise ValueError(f"decoder on {decoder.provider} does not keep frames on a device")
        self.decoder, self.k = decoder, int(oversample)
        self.device = decoder.backend.device
        self.postfx = DevicePostFX(postfx_settings, size=size, seed=seed, track_id=track_id,
                                   device=self.device, output_size=output_size,
                                   upscaler=upscaler)  # fmt: skip
        self.key = (tuple(size), tuple(output_size), self.k)

    def decode(self, latents: np.ndarray):
        """``[n·k, C, h, w]`` latents → uint8 ``[n, H, W, 3]`` on the device."""
        from renderer.fx.postfx import average_subframes

        return average_subframes(self.decoder.decode_tensor(latents), factor=self.k)

    def grade(self, frames, *, frame_indices: np.ndarray, signals) -> object:
        return self.postfx.apply(frames, frame_indices=frame_indices, signals=signals)

    def tuned_batch(self, probe: Callable[[int], object]) -> BatchChoice:
        """The batch for this frame size, tuned once per decoder and size with ``probe(n)`` (``n``
        frames through :meth:`decode` and :meth:`grade`), which also sets the decoder's batch of
        latents to match (``batch · oversample``)."""
        choice = self.decoder.tuned.get(self.key)
        if choice is None:
            choice = tune_batch(self.device, probe)
            self.decoder.tuned[self.key] = choice
            self.postfx.reset()
            # Set once: an out-of-memory halving later in the run stays halved.
            self.decoder.batch_size = max(1, choice.batch * self.k)
        return choice
