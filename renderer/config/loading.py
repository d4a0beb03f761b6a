"""Reading ``render.yaml``: size and alias caps, the quality table, CLI overrides and preset
names applied over the file, then validation into :class:`~renderer.config.models.RenderConfig`
with errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from renderer.config.cli import apply_overrides, apply_quality
from renderer.config.models import QUALITY, RenderConfig, format_validation_error
from renderer.config.reading import read_yaml
from renderer.errors import ConfigError
from renderer.presets import check_preset_name


def build_config(
    raw: dict[str, Any], *, source: str | Path = "render.yaml", overrides: dict | None = None
) -> RenderConfig:
    """Validate a ``render.yaml`` mapping with CLI ``overrides`` (see :func:`overrides_from_args`)."""
    raw = dict(raw)
    if "quality" in raw and raw["quality"] in QUALITY:
        raw = apply_quality(raw, raw["quality"], force=False)
    raw = apply_overrides(raw, overrides or {})
    try:
        config = RenderConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(source), exc)) from None
    names = [("controller.preset", config.controller.preset)]
    names += [(f"tracks.{t.id}.preset", t.preset) for t in config.tracks or [] if t.preset]
    for field_path, name in names:
        check_preset_name(name, where=f"{source}: {field_path}")
    config._source = Path(source) if isinstance(source, Path) else None
    return config


def load_config(path: str | Path, *, overrides: dict | None = None) -> RenderConfig:
    """Read, overlay and validate ``render.yaml``; raises :class:`ConfigError` naming file+field."""
    path = Path(path)
    config = build_config(read_yaml(path), source=path, overrides=overrides)
    config._source = path.resolve()
    return config
