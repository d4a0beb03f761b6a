"""Bundled presets ("moods"): YAML files beside this module, validated with pydantic.

A preset overlays the controller and post-processing defaults (see renderer/config/models.py for
the precedence). Only the fields a preset writes are applied, so a preset can be short::

    description: dark and slow
    controller:
      smoothing_alpha: 0.97
      anchors: {prefer: {luma: -1.0}, temperature: 0.5}
      motion: {pulse_strength: 0.1}
    postfx: {lut: cool_night, vignette: 0.4}

A ``cppn`` block sets the look of the CPPN backend (``model.backend: cppn``); the generator
backends ignore it. The ``cppn-*`` presets are tuned for that backend and say so with
``backend: cppn``: choosing one picks the CPPN for that track over ``model.backend`` (a track's own
``backend:`` still wins).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from renderer.config.messages import format_validation_error
from renderer.config.models import (
    ControllerSettings,
    CPPNConfig,
    PostFXConfig,
    Strict,
)
from renderer.config.overlay import explicit
from renderer.config.reading import read_yaml
from renderer.errors import ConfigError

PRESET_DIR = Path(__file__).resolve().parent
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class Preset(Strict):
    """One mood: a partial controller block and a partial postfx block."""

    name: str = ""
    description: str = ""
    controller: ControllerSettings = Field(default_factory=ControllerSettings)
    postfx: PostFXConfig = Field(default_factory=PostFXConfig)
    cppn: CPPNConfig = Field(default_factory=CPPNConfig)
    # the decoder this look is made for (the cppn-* presets say cppn); None: model.backend decides
    backend: Literal["onnx", "torch", "cppn"] | None = None

    @field_validator("controller")
    @classmethod
    def _no_nested_preset(cls, value: ControllerSettings) -> ControllerSettings:
        if "preset" in value.model_fields_set:
            raise ValueError("a preset cannot name another preset (remove controller.preset)")
        return value

    def controller_overlay(self) -> dict[str, Any]:
        """Controller fields this preset sets (nested dict)."""
        return explicit(self.controller)

    def postfx_overlay(self) -> dict[str, Any]:
        """Post-processing fields this preset sets."""
        return explicit(self.postfx)

    def cppn_overlay(self) -> dict[str, Any]:
        """CPPN look fields this preset sets."""
        return explicit(self.cppn)


def list_presets() -> list[str]:
    """Names of the bundled presets, sorted."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml") if _NAME.match(p.stem))


def check_preset_name(name: str, *, where: str = "preset") -> None:
    """Raise :class:`ConfigError` (listing the valid names) unless ``name`` is a bundled preset."""
    valid = list_presets()
    if name not in valid:
        raise ConfigError(f"{where}: unknown preset {name!r}; valid presets: {', '.join(valid)}")


@functools.lru_cache(maxsize=32)
def load_preset(name: str) -> Preset:
    """Load and validate bundled preset ``name`` (``renderer/presets/<name>.yaml``)."""
    check_preset_name(name)
    path = PRESET_DIR / f"{name}.yaml"
    raw = read_yaml(path)
    if "name" in raw and raw["name"] != name:
        raise ConfigError(f"{path}: name: {raw['name']!r} does not match the file name {name!r}")
    try:
        return Preset.model_validate({**raw, "name": name})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path), exc)) from None
