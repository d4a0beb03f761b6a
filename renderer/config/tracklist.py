"""``album/tracklist.json`` → :class:`TrackSpec`, and per-track plans (:func:`resolve_track`).

The tracklist is either a JSON list of tracks (spec appendix A) or ``{"tracks": [...], ...}``.
Keys beyond the known ones (e.g. ``"loop"``) are kept in ``TrackSpec.extra`` rather than rejected:
the tracklist is album data written by other tools, not a config.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from renderer.config.messages import format_validation_error
from renderer.config.models import (
    TRACK_ID,
    ControllerSettings,
    CPPNConfig,
    PostFXConfig,
    RenderConfig,
    Trim,
)
from renderer.config.overlay import deep_merge, explicit
from renderer.config.reading import read_text_capped
from renderer.errors import ConfigError


class _Entry(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str = Field(pattern=TRACK_ID)
    src: str = Field(min_length=1)
    title: str = ""
    artist: str = ""
    bpm: float | None = Field(None, gt=0)
    key: str | None = None
    markers: list[float] = Field(default_factory=list)
    # with bpm: the beats are the constant grid first_beat + k·60/bpm (a composed or click-locked
    # track), the ground truth the reactivity metric scores visual accents against
    first_beat: float | None = Field(None, ge=0)
    art: str | None = None
    backend: Literal["onnx", "torch", "cppn"] | None = None  # this track's decoder

    @field_validator("markers")
    @classmethod
    def _sorted(cls, value: list[float]) -> list[float]:
        if any(m < 0 for m in value) or any(
            b <= a for a, b in zip(value[:-1], value[1:], strict=True)
        ):
            raise ValueError(f"must be non-negative seconds in increasing order (got {value})")
        return value


@dataclass(frozen=True)
class TrackSpec:
    """One album track; ``src`` is resolved and guaranteed to lie inside the album root."""

    id: str
    src: Path
    title: str = ""
    artist: str = ""
    bpm: float | None = None
    key: str | None = None
    markers: tuple[float, ...] = ()
    art: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    first_beat: float | None = None
    backend: str | None = None  # the tracklist's choice of decoder backend, if any

    def reference_beats(self, *, start: float, duration: float) -> tuple[float, ...]:
        """The stated beat grid (s, relative to ``start``) within ``[0, duration)``; empty unless
        the tracklist gives both ``bpm`` and ``first_beat``."""
        if self.bpm is None or self.first_beat is None:
            return ()
        period = 60.0 / self.bpm
        k0 = max(0, math.ceil((start - self.first_beat) / period - 1e-9))
        beats, k = [], k0
        while (t := self.first_beat + k * period - start) < duration:
            beats.append(round(t, 6))
            k += 1
        return tuple(beats)


def resolve_inside(root: Path, rel: str, *, where: str) -> Path:
    """``root / rel`` resolved; :class:`ConfigError` if absolute or it escapes ``root``."""
    if Path(rel).is_absolute():
        raise ConfigError(f"{where}: {rel!r} is an absolute path; give a path inside {root}")
    root = root.resolve()
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise ConfigError(f"{where}: {rel!r} resolves outside the album folder {root}")
    return path


def load_tracklist(path: str | Path, *, album_root: str | Path | None = None) -> list[TrackSpec]:
    """Validate the tracklist; ``src`` paths resolve inside ``album_root`` (default: its folder)."""
    path = Path(path)
    root = Path(album_root) if album_root is not None else path.parent
    text = read_text_capped(path, what="tracklist")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    entries = data.get("tracks") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: expected a non-empty list of tracks (or {{'tracks': [...]}})")
    specs: list[TrackSpec] = []
    for i, item in enumerate(entries):
        try:
            entry = _Entry.model_validate(item)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(f"{path}: [{i}]", exc)) from None
        if any(s.id == entry.id for s in specs):
            raise ConfigError(f"{path}: [{i}].id: duplicate track id {entry.id!r}")
        src = resolve_inside(root, entry.src, where=f"{path}: [{i}].src")
        known = set(_Entry.model_fields)
        specs.append(
            TrackSpec(
                id=entry.id,
                src=src,
                title=entry.title or entry.id,
                artist=entry.artist,
                bpm=entry.bpm,
                key=entry.key,
                markers=tuple(entry.markers),
                first_beat=entry.first_beat,
                art=entry.art,
                backend=entry.backend,
                extra={k: v for k, v in entry.model_dump().items() if k not in known},
            )
        )
    return specs


def derive_seed(base: int, *names: str) -> int:
    """A 31-bit seed from ``base`` and names (stable across platforms and Python versions)."""
    text = ":".join([str(base), *names])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


@dataclass(frozen=True)
class TrackPlan:
    """Everything one track's render needs besides audio analysis and the model.

    ``markers`` are cue times relative to the trimmed audio (cues outside the trim are dropped).
    """

    track: TrackSpec
    preset: str
    controller: ControllerSettings
    postfx: PostFXConfig
    seed: int
    trim: Trim
    markers: tuple[float, ...]
    cppn: CPPNConfig = CPPNConfig()  # the look when the track's backend is cppn
    backend: str = (
        "onnx"  # the track block, else the tracklist, else the preset, else model.backend
    )
    stems: Path | None = None  # the track's stems folder (renderer/audio/stems.py), if any

    @property
    def id(self) -> str:
        return self.track.id

    def to_dict(self) -> dict[str, Any]:
        """JSON-able record for ``meta.json``."""
        return {
            "id": self.track.id,
            "src": str(self.track.src),
            "title": self.track.title,
            "preset": self.preset,
            "backend": self.backend,
            "seed": self.seed,
            "trim": self.trim.model_dump(mode="json"),
            "markers": list(self.markers),
            "controller": self.controller.model_dump(mode="json"),
            "postfx": self.postfx.model_dump(mode="json"),
            "cppn": self.cppn.model_dump(mode="json"),
            "stems": None if self.stems is None else str(self.stems),
        }


def resolve_track(config: RenderConfig, track: TrackSpec) -> TrackPlan:
    """Merge defaults < preset < render.yaml < the track's block into one plan for ``track``."""
    from renderer.presets import load_preset

    override = next((t for t in config.tracks or [] if t.id == track.id), None)
    if override is not None and override.src is not None:
        root = config.path(config.album.root)
        src = resolve_inside(root, override.src, where=f"tracks.{track.id}.src")
        track = TrackSpec(**{**track.__dict__, "src": src})
    track_ctrl = explicit(override.controller) if override and override.controller else {}
    track_fx = explicit(override.postfx) if override and override.postfx else {}
    name = (override.preset if override else None) or track_ctrl.get("preset")
    name = name or config.controller.preset
    preset = load_preset(name)
    ctrl = deep_merge(ControllerSettings().model_dump(), preset.controller_overlay())
    ctrl = deep_merge(ctrl, explicit(config.controller))
    ctrl = deep_merge(ctrl, track_ctrl)
    ctrl["preset"] = name
    fx = deep_merge(PostFXConfig().model_dump(), preset.postfx_overlay())
    fx = deep_merge(deep_merge(fx, explicit(config.postfx)), track_fx)
    look = deep_merge(CPPNConfig().model_dump(), preset.cppn_overlay())
    look = deep_merge(look, explicit(config.model.cppn))
    look = deep_merge(look, explicit(override.cppn) if override and override.cppn else {})
    seed = override.seed if override and override.seed is not None else None
    backend = ((override.backend if override else None) or track.backend or preset.backend
               or config.model.backend)  # fmt: skip
    trim = override.trim if override and override.trim else Trim()
    end = trim.end if trim.end is not None else float("inf")
    markers = tuple(m - trim.start for m in track.markers if trim.start < m < end)
    return TrackPlan(
        track=track,
        preset=name,
        controller=ControllerSettings.model_validate(ctrl),
        postfx=PostFXConfig.model_validate(fx),
        cppn=CPPNConfig.model_validate(look),
        backend=backend,
        seed=seed if seed is not None else derive_seed(config.seed, "track", track.id),
        trim=trim,
        markers=markers,
        stems=_stems_folder(config, track.id, override.stems if override else None),
    )


def _stems_folder(config: RenderConfig, track_id: str, value: str | bool | None) -> Path | None:
    """``tracks[].stems``: a folder (relative to the album root) that must exist, ``false`` for
    none; unset or ``true``: ``<album root>/stems/<id>`` when that folder exists."""
    root = config.path(config.album.root)
    if value is False:
        return None
    if value is None or value is True:
        default = root / "stems" / track_id
        return default if default.is_dir() else None
    folder = Path(value) if Path(value).is_absolute() else root / value
    if not folder.is_dir():
        raise ConfigError(f"render.yaml: tracks.{track_id}.stems: {folder} is not a folder")
    return folder


def select_tracks(config: RenderConfig, tracks: list[TrackSpec]) -> list[TrackSpec]:
    """Tracks to render: all, or ``run.tracks`` (``--tracks``) in album order.

    Raises :class:`ConfigError` when ``tracks:`` in render.yaml or ``--tracks`` names an id the
    tracklist does not have (a typo would otherwise silently drop a track's settings).
    """
    ids = [t.id for t in tracks]
    for override in config.tracks or []:
        if override.id not in ids:
            raise ConfigError(
                f"render.yaml: tracks.{override.id}: no such track in the tracklist; "
                f"valid ids: {', '.join(ids)}"
            )
    wanted = config.run.tracks
    if wanted is None:
        return list(tracks)
    unknown = [w for w in wanted if w not in ids]
    if unknown:
        raise ConfigError(f"--tracks: unknown track id(s) {unknown}; valid ids: {', '.join(ids)}")
    return [t for t in tracks if t.id in wanted]
