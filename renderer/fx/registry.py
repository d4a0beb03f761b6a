"""The post-fx effect registry (STYLE 9): effects are registered by name and run in :data:`ORDER`.

An effect factory takes the :class:`Ctx` of one track and returns the per-frame function, or
``None`` when the settings switch the effect off. Effects up to ``resample`` run at the decode
size (``Ctx.size``), the rest at the output size (``Ctx.out_size``): colour work is per pixel and
cheapest on the small frame, while grain, sharpening and the chromatic aberration must be drawn
at the size the viewer sees, not enlarged with the picture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from renderer.config.models import PostFXConfig

ORDER: list[str] = [
    "tone",  # exposure (creative + auto + pulses), contrast, soft knees, tone curve
    "lut",  # creative 3D LUT
    "colour",  # Oklab chroma gain held inside the saturation range, gamut soft clip
    "persistence",  # trails (the only stateful effect)
    "vignette",
    "resample",  # decode size → output size, red/blue planes scaled for the chroma shift
    "sharpen",
    "grain",
]
OUTPUT_STAGE = ORDER[ORDER.index("resample") + 1 :]


@dataclass(frozen=True)
class Ctx:
    """What effect factories see: settings, decode size and output size ``(W, H)``, seeds, and
    the model's learned upscaler (a :class:`renderer.decode.upscaler.UpscalerSpec`, or ``None``)."""

    settings: PostFXConfig
    size: tuple[int, int]
    out_size: tuple[int, int]
    seed: int
    track_id: str
    upscaler: Any = None

    @property
    def learned_upscale(self) -> bool:
        """Whether ``resample`` enlarges with the learned upscaler."""
        return (
            self.upscaler is not None
            and self.settings.upscale == "learned"
            and self.size != self.out_size
        )

    @property
    def upscaled_size(self) -> tuple[int, int]:
        """``(W, H)`` of frames after the learned upscaler (the decode size without it)."""
        if not self.learned_upscale:
            return self.size
        return self.size[0] * self.upscaler.factor, self.size[1] * self.upscaler.factor


Effect = Callable[[np.ndarray, int, Mapping[str, float]], np.ndarray]
EffectFactory = Callable[[Ctx], Effect | None]
EFFECTS: dict[str, EffectFactory] = {}


def register(name: str) -> Callable[[EffectFactory], EffectFactory]:
    """Register an effect factory under ``name`` (which must have its place in :data:`ORDER`)."""
    if name not in ORDER:
        raise ValueError(f"effect {name!r} has no place in ORDER ({', '.join(ORDER)})")

    def deco(factory: EffectFactory) -> EffectFactory:
        EFFECTS[name] = factory
        return factory

    return deco
