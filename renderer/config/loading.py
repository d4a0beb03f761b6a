"""Reading ``render.yaml``: size and alias caps, the quality table, CLI overrides and preset
names applied over the file, then validation into :class:`~renderer.config.models.RenderConfig`
with errors that name the file and the field.

The package's own files are found from the package, never from the current folder: the bundled
``render.yaml`` (the defaults of a run with no config) and the bundled model in ``models/``,
which is also the model of any config that does not set ``model.dir`` and has no ``models/``
folder beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from renderer.config.cli import apply_overrides, apply_quality
from renderer.config.messages import format_validation_error
from renderer.config.models import QUALITY, RenderConfig
from renderer.config.overlay import deep_merge
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
    """Read, overlay and validate ``render.yaml``; raises :class:`ConfigError` naming file+field.

    Without ``model.dir`` in the file the model is ``models/`` beside it when that folder exists,
    else the bundled model (:func:`bundled_model_dir`)."""
    path = Path(path)
    raw = read_yaml(path)
    model = raw.get("model")
    if (model is None or (isinstance(model, dict) and "dir" not in model)) and not (
        path.resolve().parent / "models"
    ).is_dir():
        raw = deep_merge(raw, {"model": {"dir": str(bundled_model_dir())}})
    config = build_config(raw, source=path, overrides=overrides)
    config._source = path.resolve()
    return config


# The checkout (or site-packages) that holds renderer/.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# Keys of the bundled render.yaml that describe the bundled album, not how to render.
ALBUM_KEYS = ("album", "tracks", "run_id")


def bundled_model_dir() -> Path:
    """``models/`` of the package (the committed generator)."""
    return PACKAGE_ROOT / "models"


def bundled_defaults() -> dict[str, Any]:
    """The bundled ``render.yaml`` without its album (``{}`` where the package has none)."""
    path = PACKAGE_ROOT / "render.yaml"
    raw = read_yaml(path) if path.is_file() else {}
    return {k: v for k, v in raw.items() if k not in ALBUM_KEYS}


def default_config(album_root: Path, *, overrides: dict | None = None) -> RenderConfig:
    """The config of a run with no ``render.yaml``: the bundled defaults and model, the album in
    ``album_root``; relative paths (``output_root``, ``-o``) resolve against the current folder."""
    raw = deep_merge(bundled_defaults(), {"album": {"root": str(album_root)},
                                          "model": {"dir": str(bundled_model_dir())}})  # fmt: skip
    raw["output_root"] = "renders"
    if not (overrides or {}).get("model_dir") and not (bundled_model_dir() / "meta.json").is_file():
        raise ConfigError(f"{bundled_model_dir()}: the bundled model is not there (installed "
                          "without models/? `pip install -e .` from a clone keeps it); "
                          "give a model folder with --model DIR")  # fmt: skip
    return build_config(raw, source=f"bundled defaults ({PACKAGE_ROOT / 'render.yaml'})",
                        overrides=overrides)  # fmt: skip
