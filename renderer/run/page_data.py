"""What the run page (``index.html``) is made from, read back from the run folder.

Each rendered track leaves ``analysis/<id>.json`` (the full :class:`~renderer.analysis.core.Analysis`,
the same format ``nts-analyze`` writes) and ``analysis/<id>.reactivity.json`` (the picture's change
and the onset envelope on one time axis, :func:`renderer.run.reactivity.reactivity_series`) beside
its video; ``meta.json`` holds everything else. Any of the per-track files may be missing (a track
that failed, a run folder from before the page existed): the page then says so instead of a plot.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from renderer.errors import NoiseToSignalError

ANALYSIS_DIR = "analysis"
SERIES_DIGITS = 5  # change is in [0, 1]: 1e-5 is far below one grey level (≈ 4e-3)


class PageError(NoiseToSignalError):
    """The run page could not be built from the run folder (the message names the file)."""


@dataclass(frozen=True)
class TrackData:
    """One track of the page: its ``meta.json`` entry and its optional plot data."""

    meta: dict[str, Any]
    analysis: dict[str, Any] | None  # Analysis.to_dict(), or None when not recorded
    series: dict[str, Any] | None  # {"fps", "time", "change", "onset"}, or None

    @property
    def id(self) -> str:
        return str(self.meta.get("id", "?"))


@dataclass(frozen=True)
class RunData:
    """Everything the page shows: ``meta.json`` and the tracks in album order."""

    run_dir: Path
    meta: dict[str, Any]
    tracks: list[TrackData]


def analysis_paths(run_dir: Path, track_id: str) -> tuple[Path, Path]:
    """``(analysis/<id>.json, analysis/<id>.reactivity.json)`` in ``run_dir``."""
    folder = Path(run_dir) / ANALYSIS_DIR
    return folder / f"{track_id}.json", folder / f"{track_id}.reactivity.json"


def _finite(values: Any) -> list[float]:
    return [round(float(v), SERIES_DIGITS) if math.isfinite(float(v)) else 0.0 for v in values]


def write_track_data(
    run_dir: Path, track_id: str, *, analysis: dict[str, Any], series: dict[str, Any]
) -> tuple[Path, Path]:
    """Write a track's analysis and reactivity series atomically; returns both paths."""
    from renderer.files import write_text_atomic

    analysis_path, series_path = analysis_paths(run_dir, track_id)
    write_text_atomic(analysis_path, json.dumps(analysis, indent=1))
    data = {
        "fps": float(series["fps"]),
        "time": [round(float(t), 4) for t in series["time"]],
        "change": _finite(series["change"]),
        "onset": _finite(series["onset"]),
    }
    write_text_atomic(series_path, json.dumps(data, separators=(",", ":")))
    return analysis_path, series_path


def _read_json(path: Path, *, required: bool) -> Any:
    """The JSON in ``path``; ``None`` for a missing optional file, :class:`PageError` for a
    required one or for a file that is there but is not JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise PageError(f"{path}: not found (the run writes it when it finishes)") from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise PageError(f"{path}: cannot read it ({type(exc).__name__}: {exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PageError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc


def _optional(path: Path, *, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """An optional per-track file: ``None`` when missing, unreadable or without ``keys`` (the
    page then shows a note instead of the plot; the render itself is not in question)."""
    try:
        data = _read_json(path, required=False)
    except PageError:
        return None
    if not isinstance(data, dict) or any(k not in data for k in keys):
        return None
    return data


def load_run(run_dir: Path) -> RunData:
    """``meta.json`` and each track's plot data from ``run_dir``."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "meta.json"
    meta = _read_json(meta_path, required=True)
    if not isinstance(meta, dict):
        raise PageError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}")
    tracks = meta.get("tracks", [])
    if not isinstance(tracks, list) or not all(isinstance(t, dict) for t in tracks):
        raise PageError(f"{meta_path}: field 'tracks' must be a list of objects")
    out = []
    for track in tracks:
        analysis_path, series_path = analysis_paths(run_dir, str(track.get("id", "")))
        analysis = _optional(analysis_path, keys=("duration", "beats", "sections"))
        series = _optional(series_path, keys=("fps", "time", "change", "onset"))
        out.append(TrackData(meta=track, analysis=analysis, series=series))
    return RunData(run_dir=run_dir, meta=meta, tracks=out)


def relative_url(path: str | Path | None, run_dir: Path) -> str | None:
    """A URL for ``path`` relative to ``run_dir`` (where ``index.html`` lies), percent-encoded;
    ``None`` when there is no such file.

    ``meta.json`` records absolute paths; a run folder that was moved or copied still finds its
    files by their place inside the folder (``previews/x.png``, ``t0.mp4``)."""
    if not path:
        return None
    run_dir = Path(run_dir)
    p = Path(path)
    candidates = []
    try:
        candidates.append(p.resolve().relative_to(run_dir.resolve()))
    except (ValueError, OSError):
        pass
    candidates += [Path(*p.parts[-k:]) for k in (2, 1) if len(p.parts) >= k]
    for rel in candidates:
        if ".." not in rel.parts and not rel.is_absolute() and (run_dir / rel).is_file():
            return quote(rel.as_posix())
    return None
