"""Command-line overrides of ``render.yaml`` and the ``quality`` tables.

``add_cli_arguments(parser)`` adds the shared flags; ``overrides_from_args(args)`` returns the
flags the user gave as a flat dict (``{"fps": 60, "tracks": "a,b"}``) that
:func:`renderer.config.loading.load_config` applies after the file: they are the last layer.
"""

from __future__ import annotations

import copy
from typing import Any

from renderer.config.models import BACKEND_NAMES, QUALITY, RenderConfig
from renderer.config.overlay import deep_merge
from renderer.errors import ConfigError


def apply_quality(raw: dict[str, Any], quality: str, *, force: bool) -> dict[str, Any]:
    """``raw`` with the quality table over it (``force``) or under it; ``draft`` also halves the
    resolution. A malformed resolution is left for the schema to report."""
    table = copy.deepcopy(QUALITY[quality])  # never hand out the module's own dicts
    resolution = raw.get("resolution", RenderConfig.model_fields["resolution"].default)
    if quality == "draft" and _is_size(resolution):
        width, height = resolution
        table["resolution"] = [max(64, width // 4 * 2), max(64, height // 4 * 2)]
    # force (CLI): the table replaces the file's values; else it only fills what the file omits.
    return deep_merge(raw, table) if force else deep_merge(table, raw)


def _is_size(value: Any) -> bool:
    return (isinstance(value, list | tuple) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value))  # fmt: skip


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Apply CLI overrides (flat keys as produced by :func:`overrides_from_args`) to raw YAML."""
    known = set(CLI_FIELDS)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"overrides: unknown key(s) {unknown}; valid: {sorted(known)}")
    ov = {k: v for k, v in overrides.items() if v is not None}
    if "quality" in ov:
        raw = apply_quality(dict(raw, quality=ov["quality"]), ov["quality"], force=True)
    if "preset" in ov:
        # --preset wins over every per-track preset too: it is applied last.
        raw = deep_merge(raw, {"controller": {"preset": ov["preset"]}})
        if isinstance(raw.get("tracks"), list):
            raw["tracks"] = [
                {k: v for k, v in t.items() if k != "preset"} if isinstance(t, dict) else t
                for t in raw["tracks"]
            ]
    for key, (field_path, convert) in CLI_FIELDS.items():
        if key in ov and field_path:
            node: dict[str, Any] = {}
            cursor = node
            *parents, leaf = field_path.split(".")
            for part in parents:
                cursor = cursor.setdefault(part, {})
            cursor[leaf] = convert(ov[key])
            raw = deep_merge(raw, node)
    return raw


def parse_resolution(text: str | tuple | list) -> list[int]:
    """``"1280x720"`` → ``[1280, 720]``."""
    if isinstance(text, (tuple, list)):
        return [int(v) for v in text]
    try:
        width, height = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ConfigError(
            f"--resolution: expected WIDTHxHEIGHT such as 1920x1080 (got {text!r})"
        ) from None
    return [width, height]


def _tracks_list(value: str | list[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return [v.strip() for v in items if v.strip()]


# CLI key → (field path in render.yaml, converter); "" = handled specially in apply_overrides.
CLI_FIELDS: dict[str, tuple[str, Any]] = {
    "preset": ("", str),
    "quality": ("", str),
    "fps": ("frame_rate", int),
    "resolution": ("resolution", parse_resolution),
    "tracks": ("run.tracks", _tracks_list),
    "resume": ("run.resume", bool),
    "dry_run": ("run.dry_run", bool),
    "keep_frames": ("render.keep_frames", bool),
    "debug_frames": ("render.debug_frames", bool),
    "batch_size": ("decoder.batch_size", int),
    "backend": ("model.backend", str),
    "provider": ("decoder.execution_provider", str),
    "output_root": ("output_root", str),
    "model_dir": ("model.dir", str),
    "executor": ("render.executor", str),
    "workers": ("render.workers", int),
    "address": ("render.address", str),
}


def add_cli_arguments(parser: Any) -> None:
    """Add the shared render overrides to an ``argparse.ArgumentParser``."""
    import argparse

    group = parser.add_argument_group(
        "config overrides (applied after render.yaml; relative paths resolve against the config "
        "file's folder, or the current folder when there is no config)"
    )
    group.add_argument("-o", "--output", dest="output_root", metavar="DIR",
                       help="folder that holds <run-id>/ (default: renders)")  # fmt: skip
    group.add_argument("--output-root", dest="output_root", help=argparse.SUPPRESS)  # old name
    group.add_argument("--preset", help="preset for every track (overrides per-track presets)")
    group.add_argument("--fps", type=int, help="frame rate, 24-120")
    group.add_argument("--resolution", metavar="WxH", help="output size, e.g. 1280x720")
    group.add_argument("--quality", choices=sorted(QUALITY),
                       help="draft (half size, 24 fps, fast encode) | standard | full (60 fps, 2x "
                            "oversampling)")  # fmt: skip
    group.add_argument("--tracks", metavar="IDS", help="comma-separated track ids to render")
    group.add_argument("--resume", action="store_true", default=None, help="skip finished chunks")
    group.add_argument("--dry-run", action="store_true", default=None,
                       help="print the plan (tracks, frames, estimated time), render nothing")  # fmt: skip
    group.add_argument("--keep-frames", action="store_true", default=None,
                       help="keep the intermediate segments and mastered audio")  # fmt: skip
    group.add_argument("--debug-frames", action="store_true", default=None,
                       help="also write every frame as PNG under <run-id>/frames/")  # fmt: skip
    group.add_argument("--batch-size", type=int, help="decoder batch size, 1-256")
    group.add_argument("--backend", choices=list(BACKEND_NAMES),
                       help="decoder: ONNX Runtime, torch or the CPPN")  # fmt: skip
    group.add_argument("--provider", choices=["auto", "cuda", "cpu"],
                       help="ONNX Runtime device (auto: CUDA when it really loads)")  # fmt: skip
    group.add_argument("--model", dest="model_dir", metavar="DIR",
                       help="model folder (generator + meta.json; default: the bundled model)")  # fmt: skip
    group.add_argument("--executor", choices=["local", "processes", "ray"],
                       help="where chunks render: this process, a local pool, a Ray cluster")  # fmt: skip
    group.add_argument("--workers", type=int, metavar="N",
                       help="processes: pool size (default: one per core)")  # fmt: skip
    group.add_argument("--address", metavar="HOST:PORT",
                       help="ray: a running cluster (`ray start --head`; default: start one here)")  # fmt: skip


def overrides_from_args(args: Any) -> dict[str, Any]:
    """The overrides the user actually gave (``None``/absent flags are left out)."""
    values = {key: getattr(args, key, None) for key in CLI_FIELDS}
    return {k: v for k, v in values.items() if v is not None}
