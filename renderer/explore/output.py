"""What an exploration writes: its inputs before the run (the tracklist, each tile's
render.yaml, the run's own) and, from the finished run, the pictures — a contact strip per tile
(frames of its *encoded* clip, one a second, side by side), the clip itself, stills of the
model's anchors per backend — and the gallery with ``explore.json``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from renderer.explore.gallery import AnchorStill, TileView, gallery_html
from renderer.explore.grid import Sweep, Tile, dump_yaml, tile_config, tracklist

MAX_STRIP = 4  # frames in a tile's contact strip


def write_inputs(out: Path, *, base: dict[str, Any], whole: dict[str, Any], tiles: list[Tile],
                 audio: Path) -> Path:  # fmt: skip
    """``tracklist.json``, ``configs/<id>.yaml`` and ``explore.render.yaml``; returns the last."""
    from renderer.files import write_text_atomic

    write_text_atomic(out / "tracklist.json", json.dumps(tracklist(tiles, audio=audio), indent=1))
    (out / "configs").mkdir(exist_ok=True)
    for tile in tiles:
        write_text_atomic(out / "configs" / f"{tile.id}.yaml",
                          dump_yaml(tile_config(base, tile), tile=tile))  # fmt: skip
    path = out / "explore.render.yaml"
    write_text_atomic(path, "# every tile of this exploration as one run (nts-explore)\n"
                      + dump_yaml(whole))  # fmt: skip
    return path


def intro(audio: Path, *, trim: tuple[float, float], size: tuple[int, int], fps: int,
          sweep: Sweep | None) -> list[str]:  # fmt: skip
    lines = [f"{audio.name}, {trim[0]:g}–{trim[1]:g} s, {size[0]}×{size[1]} at {fps} fps.",
             "Each tile's config is a whole render.yaml: save it as render.yaml and run "
             "nts-render-track --config render.yaml --track <id> to render the same frames "
             "(the frame hashes are in explore.json)."]  # fmt: skip
    if sweep is not None:
        lines.append(f"Sweep: {sweep.key} over {', '.join(map(str, sweep.values))}.")
    return lines


def _tracks(run_dir: Path) -> dict[str, dict[str, Any]]:
    """The run's ``meta.json`` tracks by id (``{}`` when the run wrote none)."""
    meta = run_dir / "meta.json"
    if not meta.is_file():
        return {}
    return {t["id"]: t for t in json.loads(meta.read_text(encoding="utf-8"))["tracks"]}


def write_gallery(out: Path, *, run_dir: Path, tiles: list[Tile], stills: list[AnchorStill],
                  intro: list[str]) -> list[TileView]:  # fmt: skip
    """Sheets and clips of the tiles that rendered, ``index.html`` and ``explore.json``."""
    from renderer.files import write_text_atomic

    tracks = _tracks(run_dir)
    views, records = [], []
    for tile in tiles:
        track = tracks.get(tile.id, {})
        config_file = f"configs/{tile.id}.yaml"
        yaml_text = (out / config_file).read_text(encoding="utf-8")
        view = TileView(tile.id, tile.label, yaml_text, config_file,
                        error=track.get("error") or ("not rendered" if not track else None))  # fmt: skip
        if track.get("ok") and track.get("output"):
            video = Path(track["output"])
            view = TileView(tile.id, tile.label, yaml_text, config_file,
                            sheet=contact_strip(video, out / "sheets" / f"{tile.id}.jpg")
                            .relative_to(out).as_posix(),
                            clip=copy_clip(video, out / "clips" / f"{tile.id}.mp4")
                            .relative_to(out).as_posix(),
                            frames=int(track.get("frames", 0)))  # fmt: skip
        views.append(view)
        records.append({"id": tile.id, "label": tile.label, "backend": tile.backend,
                        "preset": tile.preset, "seed": tile.seed,
                        "sweep": list(tile.sweep) if tile.sweep else None,
                        "config": config_file, "ok": bool(track.get("ok")),
                        "error": view.error, "frames": view.frames,
                        "frame_hashes": [h for c in track.get("chunks", [])
                                         for h in c["frame_hashes"]]})  # fmt: skip
    page = gallery_html(title=f"nts-explore: {intro[0]}", intro=intro, tiles=views, stills=stills)
    write_text_atomic(out / "index.html", page)
    summary = {"created_by": "nts-explore", "run_dir": str(run_dir), "tiles": records,
               "anchors": [{"backend": s.backend, "id": s.id, "image": s.image, "tags": s.tags}
                           for s in stills]}  # fmt: skip
    write_text_atomic(out / "explore.json", json.dumps(summary, indent=1))
    return views


def contact_strip(video: Path, out: Path, *, ffmpeg_path: str | None = None) -> Path:
    """Frames of ``video`` one a second (at most :data:`MAX_STRIP`), left to right, as a JPEG."""
    from PIL import Image

    from renderer.fx.quality import encoded_frames

    frames = encoded_frames(video, every=1.0, ffmpeg_path=ffmpeg_path)[:MAX_STRIP]
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(frames, axis=1)).save(out, quality=90)
    return out


def copy_clip(video: Path, out: Path) -> Path:
    """The tile's clip beside the gallery (the run folder can be deleted afterwards)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(video, out)
    return out


def anchor_stills(*, backends: list[str], model_dir: Path, size: tuple[int, int],
                  out_dir: Path, gallery_dir: Path, limit: int = 12) -> list[AnchorStill]:  # fmt: skip
    """Each backend's first ``limit`` anchors decoded raw: the GAN at its native size, the CPPN
    at ``size`` with the default look at time 0. One PNG per anchor under ``out_dir``."""
    from PIL import Image

    from renderer.decode.decoder import open_decoder

    stills: list[AnchorStill] = []
    for backend in backends:
        decoder = open_decoder(model_dir, backend=backend, provider="cpu", batch_size=4)
        anchors = decoder.meta.anchors[:limit]
        if not anchors:
            continue
        latents = np.stack([a.latent for a in anchors]).astype(np.float32)
        frames = decoder.decode(latents, size=size, times=np.zeros(len(anchors)))
        out_dir.mkdir(parents=True, exist_ok=True)
        for i, (anchor, frame) in enumerate(zip(anchors, frames, strict=True)):
            path = out_dir / f"{backend}-{i:02d}-{anchor_file(anchor.id)}.png"
            Image.fromarray(frame).save(path)
            stills.append(AnchorStill(backend, str(anchor.id), path.relative_to(gallery_dir)
                                      .as_posix(), tuple(anchor.tags), dict(anchor.stats)))  # fmt: skip
    return stills


def anchor_file(anchor_id: str) -> str:
    """A file-name-safe form of an anchor id (ids come from ``meta.json``)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(anchor_id))
    return safe[:64] or "anchor"
