"""The learned ×4 upscaler: graded decode-size frames → frames with edges drawn at 4× the size.

A bicubic enlargement of a 272×480 decode spreads every edge over ~4-5 output pixels (issue 9).
This small network (``training/train_upscaler.py`` trains it on the procedural imagery rendered
at 1024², of which the 256² training images are an area average) draws those edges again at the
output pixels: 3×3 convolutions with ReLU at the decode size, then a 1×1 to 48 channels that a
pixel shuffle turns into the 4×4 output pixels under each input pixel, added to that input pixel
(so an untrained network is a nearest-neighbour enlargement, and it learns the residual).

The convolutions are unpadded: the frame is edge-padded by the network's receptive radius once,
so the borders see repeated pixels rather than black. :class:`FastUpscaler` runs it on uint8
``[B, h, w, 3]`` tensors (CPU or CUDA) with the 0-255 scale folded into the weights, channels-last
convolutions and the pixel shuffle written as one strided copy into the uint8 output — measured
on the development CPU, 2.3× faster than the plain module, and faster than ONNX Runtime, whose
elementwise work on the 48-channel tensor cost more than its convolutions. With ``compile``
(``decoder.compile``, :mod:`renderer.decode.compile`) Inductor fuses those elementwise passes:
another 1.6×, the same bytes.

``models/meta.json`` lists the weights as ``artefacts.upscaler`` (safetensors, with the
network's ``width`` and ``depth`` and the sha256); :func:`upscaler_spec` verifies them like the
generator's.
"""

from __future__ import annotations

import copy
import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from renderer.decode.model_meta import ModelMeta, verify_artefact
from renderer.errors import ModelError

log = logging.getLogger(__name__)

FACTOR = 4  # the decode → output ratio of renderer.decode.model_meta.latent_grid
PHASES = FACTOR * FACTOR


def receptive_pad(depth: int) -> int:
    """Input pixels each side the network reads beyond a pixel: one per 3×3 convolution."""
    return depth + 1


def build_net(width: int = 16, depth: int = 2):
    """``UpscalerNet``: float ``[B, 3, h + 2p, w + 2p]`` in 0-1 → ``[B, 3, 4h, 4w]``."""
    from torch import nn

    class UpscalerNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pad = receptive_pad(depth)
            layers: list[nn.Module] = [nn.Conv2d(3, width, 3), nn.ReLU()]
            for _ in range(depth):
                layers += [nn.Conv2d(width, width, 3), nn.ReLU()]
            layers.append(nn.Conv2d(width, 3 * PHASES, 1))
            self.body = nn.Sequential(*layers)
            nn.init.zeros_(self.body[-1].weight)  # start as a nearest-neighbour enlargement
            nn.init.zeros_(self.body[-1].bias)

        def forward(self, x):
            p = self.pad
            base = x[:, :, p:-p, p:-p].repeat_interleave(PHASES, dim=1)
            return nn.functional.pixel_shuffle(self.body(x) + base, FACTOR)

    return UpscalerNet()


class FastUpscaler:
    """``net`` for inference on uint8 frames: ``[B, h, w, 3]`` → ``[B, 4h, 4w, 3]``, same device.

    Equal to ``round(255 · net(frame / 255))`` saturated to 0-255 (rounding half up), computed
    as: edge-pad by index; the body with the input scale folded into the first convolution and
    the output scale into the last, whose 48 output channels are reordered from the pixel
    shuffle's (colour, row, column) to (row, column, colour); in channels-last memory the result
    is then ``[B, h, w, 4, 4, 3]``, to which the input pixel is added, and one strided copy
    interleaves it into the uint8 output.
    """

    def __init__(self, net, device="cpu", *, compile: str = "off") -> None:
        import torch

        from renderer.decode.compile import maybe_compiled

        net = copy.deepcopy(net).eval()
        order = [c * PHASES + k for k in range(PHASES) for c in range(3)]  # new → old channel
        with torch.no_grad():
            first, last = net.body[0], net.body[-1]
            first.weight /= 255.0
            last.weight.copy_(last.weight[order] * 255.0)
            last.bias.copy_(last.bias[order] * 255.0)
        self.body = net.body.to(device).to(memory_format=torch.channels_last)
        self.pad = net.pad
        self.device = torch.device(device)
        self._run = maybe_compiled(self._upscale, mode=compile, device=str(device), name="upscaler")

    def __call__(self, frames):
        return self._run(frames)

    def _upscale(self, frames):
        import torch

        b, h, w, _ = frames.shape
        p = self.pad
        rows = torch.arange(-p, h + p, device=frames.device).clamp_(0, h - 1)
        cols = torch.arange(-p, w + p, device=frames.device).clamp_(0, w - 1)
        with torch.inference_mode():
            x = frames[:, rows][:, :, cols].permute(0, 3, 1, 2).float()  # channels-last NCHW
            y = self.body(x).permute(0, 2, 3, 1).reshape(b, h, w, FACTOR, FACTOR, 3)
            y = y + (frames.float() + 0.5).reshape(b, h, w, 1, 1, 3)
            y.clamp_(0.0, 255.0)
            out = torch.empty((b, h, FACTOR, w, FACTOR, 3), dtype=torch.uint8, device=y.device)
            out.copy_(y.permute(0, 1, 3, 2, 4, 5))  # truncation of value + 0.5: rounds half up
        return out.reshape(b, h * FACTOR, w * FACTOR, 3)

    def frame(self, frame: np.ndarray) -> np.ndarray:
        """One host frame: uint8 ``[h, w, 3]`` → ``[4h, 4w, 3]`` (the CPU render path)."""
        import torch

        return self(torch.from_numpy(np.ascontiguousarray(frame))[None])[0].numpy()


@dataclass(frozen=True)
class UpscalerSpec:
    """The hash-checked upscaler of a model folder: its weights and the network's shape."""

    weights: Path
    width: int
    depth: int
    factor: int = FACTOR
    compile: str = "off"  # decoder.compile: renderer/decode/compile.py

    def runner(self, device="cpu") -> FastUpscaler:
        """The upscaler on a torch ``device``, loaded once per process and device."""
        return _runner(self.weights, self.width, self.depth, str(device), self.compile)


@functools.lru_cache(maxsize=4)
def _runner(path: Path, width: int, depth: int, device: str, compile: str) -> FastUpscaler:
    from safetensors.torch import load_file

    net = build_net(width, depth)
    try:
        net.load_state_dict(load_file(str(path)))
    except (RuntimeError, OSError) as exc:  # wrong shapes/keys, unreadable file
        raise ModelError(f"{path}: not the upscaler that meta.json describes ({exc})") from exc
    log.info("upscaler: %s (learned ×%d, width %d, depth %d)", path.name, FACTOR, width, depth)
    return FastUpscaler(net, device, compile=compile)


def upscaler_spec(
    meta: ModelMeta | None, *, verify: bool = True, compile: str = "off"
) -> UpscalerSpec | None:
    """The model folder's upscaler (its file hash-checked against ``meta.json``), or ``None``
    when ``meta`` lists none (older models, the model-free CPPN backend)."""
    if meta is None or "upscaler" not in meta.artefacts:
        return None
    entry = meta.artefacts["upscaler"]
    try:
        width, depth = int(entry["width"]), int(entry["depth"])
    except (KeyError, TypeError, ValueError):
        raise ModelError(
            f"{meta.model_dir / 'meta.json'}: artefacts.upscaler needs integer 'width' and 'depth'"
        ) from None
    path = verify_artefact(meta, "upscaler") if verify else meta.artefact_path("upscaler")
    return UpscalerSpec(path, width, depth, compile=compile)
