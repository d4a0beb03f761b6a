"""The explorer's tiles: backends × presets × seeds × the values of one swept parameter, each a
track block of ``render.yaml`` over a short excerpt of one recording.

A tile *is* a render config: :func:`tile_config` is the whole ``render.yaml`` that renders that
tile alone (``nts-render-track --config render.yaml --track <id>``), and :func:`gallery_config`
the same settings with every tile's block, which the explorer renders as one run through the
normal render path. Frames depend only on the config and the audio, so both give the same frames.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from renderer.config.messages import format_validation_error as _format
from renderer.config.models import BACKEND_NAMES, TrackOverride
from renderer.config.overlay import deep_merge
from renderer.errors import ConfigError

SWEEP_ROOTS = ("controller", "postfx", "cppn")  # per-track blocks a sweep may change
MAX_TILES = 200  # a gallery of more is a batch job, not an exploration


@dataclass(frozen=True)
class Sweep:
    """One parameter (``postfx.saturation``) and the values it takes across the tiles."""

    key: str
    values: tuple[Any, ...]

    def overlay(self, value: Any) -> dict[str, Any]:
        """``{"postfx": {"saturation": value}}`` for ``key = "postfx.saturation"``."""
        node: dict[str, Any] = {}
        cursor = node
        *parents, leaf = self.key.split(".")
        for part in parents:
            cursor = cursor.setdefault(part, {})
        cursor[leaf] = value
        return node


@dataclass(frozen=True)
class Tile:
    """One cell of the gallery; ``block`` is its track block in ``render.yaml``."""

    id: str
    backend: str
    preset: str
    seed: int
    sweep: tuple[str, Any] | None
    block: dict[str, Any]

    @property
    def label(self) -> str:
        text = f"{self.preset} · {self.backend} · seed {self.seed}"
        return f"{text} · {self.sweep[0]} = {self.sweep[1]}" if self.sweep else text


def parse_names(text: str, *, flag: str, valid: list[str] | tuple[str, ...]) -> list[str]:
    """``"a,b"`` → ``["a", "b"]``, each one of ``valid`` (the error lists them), no repeats."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"{flag}: give at least one name; valid: {', '.join(valid)}")
    for name in names:
        if name not in valid:
            raise ConfigError(f"{flag}: unknown name {name!r}; valid: {', '.join(valid)}")
    return list(dict.fromkeys(names))


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` → ``[0, 1, 2]`` (whole numbers ≥ 0, no repeats)."""
    seeds = []
    for part in (p.strip() for p in text.split(",")):
        if not part.isdigit():
            raise ConfigError(f"--seeds: {part!r} is not a whole number ≥ 0 (got {text!r})")
        seeds.append(int(part))
    return list(dict.fromkeys(seeds))


def parse_sweep(text: str) -> Sweep:
    """``"postfx.saturation=0.8,1,1.2"`` → :class:`Sweep`; every value is checked against the
    schema here, so a typo or a value out of range names the field before anything renders."""
    key, sep, values_text = text.partition("=")
    key = key.strip()
    root = key.split(".")[0]
    if not sep or "." not in key or root not in SWEEP_ROOTS or not values_text.strip():
        raise ConfigError(f"--sweep: expected BLOCK.FIELD=V1,V2,… with BLOCK one of "
                          f"{', '.join(SWEEP_ROOTS)}, e.g. postfx.saturation=0.8,1,1.2 "
                          f"(got {text!r})")  # fmt: skip
    if key == "controller.preset":
        raise ConfigError("--sweep: controller.preset: give the presets with --preset instead")
    values = tuple(yaml.safe_load(v.strip()) for v in values_text.split(","))
    sweep = Sweep(key, tuple(dict.fromkeys(values)))
    for value in sweep.values:
        try:
            TrackOverride.model_validate({"id": "sweep", **sweep.overlay(value)})
        except ValidationError as exc:
            raise ConfigError(_format(f"--sweep {key}={value}", exc)) from None
    return sweep


def build_tiles(*, backends: list[str], presets: list[str], seeds: list[int],
                sweep: Sweep | None, trim: tuple[float, float]) -> list[Tile]:  # fmt: skip
    """Every combination, in that order (the sweep varies fastest); ids ``t001``, ``t002``…"""
    for name in backends:
        if name not in BACKEND_NAMES:
            raise ConfigError(f"--backend: unknown {name!r}; valid: {', '.join(BACKEND_NAMES)}")
    values: list[Any] = list(sweep.values) if sweep else [None]
    combos = list(itertools.product(backends, presets, seeds, values))
    if len(combos) > MAX_TILES:
        raise ConfigError(f"{len(combos)} tiles (backends × presets × seeds × sweep values); "
                          f"at most {MAX_TILES}: give fewer")  # fmt: skip
    tiles = []
    for i, (backend, preset, seed, value) in enumerate(combos, start=1):
        block: dict[str, Any] = {"id": f"t{i:03d}", "preset": preset, "backend": backend,
                                 "seed": seed, "trim": {"start": trim[0], "end": trim[1]}}  # fmt: skip
        if sweep is not None:
            block = deep_merge(block, sweep.overlay(value))
        tiles.append(Tile(block["id"], backend, preset, seed,
                          (sweep.key, value) if sweep else None, block))  # fmt: skip
    return tiles


def base_settings(*, defaults: dict[str, Any], audio: Path, out_dir: Path, model_dir: Path,
                  fps: int, resolution: tuple[int, int], seconds: float) -> dict[str, Any]:  # fmt: skip
    """The settings every tile shares: ``defaults`` (a render.yaml without its album) with the
    explorer's size, rate, audio folder, tracklist and model, absolute paths throughout, and
    one chunk per tile. ``quality`` is dropped: its table would rescale the tiles."""
    raw = {k: copy.deepcopy(v) for k, v in defaults.items() if k not in ("quality", "run")}
    return deep_merge(raw, {
        "output_root": "renders",  # beside the render.yaml the tile is pasted into
        "frame_rate": fps,
        "resolution": list(resolution),
        "album": {"root": str(audio.parent), "tracklist": str(out_dir / "tracklist.json")},
        "model": {"dir": str(model_dir)},
        "render": {"chunk_seconds": max(1.0, float(seconds)), "previews": False,
                   "executor": "local"},
        "encode": {"profile": "draft", "webm": False},
    })  # fmt: skip


def tile_config(base: dict[str, Any], tile: Tile) -> dict[str, Any]:
    """The whole ``render.yaml`` that renders ``tile`` alone."""
    return {**copy.deepcopy(base), "tracks": [copy.deepcopy(tile.block)]}


def gallery_config(base: dict[str, Any], tiles: list[Tile], *, runs_dir: Path) -> dict[str, Any]:
    """Every tile as a track of one run under ``runs_dir``."""
    raw = {**copy.deepcopy(base), "tracks": [copy.deepcopy(t.block) for t in tiles]}
    raw["output_root"] = str(runs_dir)
    return raw


def tracklist(tiles: list[Tile], *, audio: Path) -> list[dict[str, Any]]:
    """``tracklist.json`` entries: every tile is the same recording under its own id."""
    return [{"id": t.id, "src": audio.name, "title": f"{audio.stem} · {t.label}"} for t in tiles]


def dump_yaml(raw: dict[str, Any], *, tile: Tile | None = None) -> str:
    """YAML text of a config (keys in the order given), headed by how to use it."""
    head = ""
    if tile is not None:
        head = (f"# nts-explore tile {tile.id}: {tile.label}\n"
                f"# save as render.yaml, then: nts-render-track --config render.yaml "
                f"--track {tile.id}\n")  # fmt: skip
    return head + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=100)
