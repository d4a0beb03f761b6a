"""A tiny album on disk for the orchestration tests: synthetic WAVs, a tracklist, a copy of the
tiny model and a render.yaml at 128×72, 24 fps, 1 s chunks (the schema's lowest frame rate)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from audio_fixtures import click_track, triad

FPS = 24
SIZE = (128, 72)


def make_album(root: Path, model_dir: Path, *, seconds: float = 3.0, extra: str = "") -> Path:
    """Write ``root/album`` (t0 at 120 bpm in A, t1 at 96 bpm in F#), ``root/models`` and
    ``root/render.yaml``; returns the config path. ``extra`` is appended to render.yaml."""
    album = root / "album"
    album.mkdir(parents=True)
    tracks = []
    for i, (bpm, key) in enumerate([(120, "A"), (96, "F#")]):
        y, _ = click_track(bpm, seconds, sr=22050, seed=i)
        y = y + triad(key, True, seconds)[: len(y)]
        sf.write(str(album / f"t{i}.wav"), np.stack([y, 0.8 * y]).T, 22050)
        tracks.append({"id": f"t{i}", "src": f"t{i}.wav", "title": f"Track {i}", "bpm": bpm,
                       "first_beat": 0.0})  # fmt: skip
    (album / "tracklist.json").write_text(json.dumps(tracks))
    shutil.copytree(model_dir, root / "models")
    config = root / "render.yaml"
    config.write_text(
        f"frame_rate: {FPS}\nresolution: [{SIZE[0]}, {SIZE[1]}]\nseed: 3\n"
        "postfx: {persistence: 0.5, grain_intensity: 0.1}\n"
        "render: {chunk_seconds: 1}\n"
        "tracks:\n  - id: t1\n    preset: pulse\n" + extra
    )
    return config


def read_meta(config: Path, root: str = "renders") -> dict:
    """The single run's meta.json under ``<config dir>/<root>/``."""
    (meta,) = (config.parent / root).glob("*/meta.json")
    return json.loads(meta.read_text())


@dataclass(frozen=True)
class AlbumRun:
    """One finished render of :func:`make_album` (with the WebM copy): what the tests read."""

    config: Path  # render.yaml
    run_dir: Path  # renders/<run-id>/
    meta: dict  # meta.json as the render wrote it (later resumes may rewrite the file)
    stderr: str  # what the render printed


def render_album_once(root: Path, model_dir: Path) -> AlbumRun:
    """Render the tiny album under ``root`` through the real CLI, from ``root`` as the cwd."""
    from renderer.render_album import main as album_main

    config = make_album(root, model_dir, extra="encode: {webm: true}\n")
    err = io.StringIO()
    cwd = Path.cwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stderr(err):
            code = album_main(["--config", str(config)])
    finally:
        os.chdir(cwd)
    assert code == 0, err.getvalue()[-3000:]
    meta = read_meta(config)
    return AlbumRun(config, Path(meta["album"]).parent, meta, err.getvalue())
