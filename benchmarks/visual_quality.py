"""Visual quality of a run's videos beside the training images (issue 9).

``python benchmarks/visual_quality.py`` renders the album with ``render.yaml`` and grain 0 (the
measure of detail counts grain as detail), then measures; ``--run renders/<run-id>`` measures a
finished run instead. Written into the run folder (or ``--out``):

* ``visual_quality.json`` and ``visual_quality.md``: per track, from frames of the *encoded* file
  decoded by FFmpeg at full size, one per second, the mean sharpness (mean |Laplacian| of the grey
  frame over the same at ¼ size), the edge width (pixels across the strongest edges, which pattern
  at the pixel cannot fake), saturation (mean HSV), contrast (grey std, 0–255) and mean luma,
  with the per-frame luma/saturation extremes and the bars of ``renderer/fx/frame_stats.py``;
  beside the same measures of the training images (``data/sample/``) natively and 4× bicubic;
* the SWD ×10³ (``training/metrics.py``, Laplacian-pyramid 7×7 patches) of 256² crops of the
  frames, brought to the model's texture scale (area reduction to the decode size), against a
  held-out part of the dataset, with the real-vs-real floor (another part of the dataset);
* ``visual_sheet.png``: 100 % crops of the 1080p frames (one row per track), training images and
  raw model samples (random latents decoded at the model's native 256²), all at 1:1 pixels.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

if __package__ in (None, ""):  # `python benchmarks/visual_quality.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer.fx.frame_stats import RANGES
from renderer.fx.quality import encoded_frames, enlarge, failures, frames_row

ROOT = Path(__file__).resolve().parents[1]
CROP = 256  # px: SWD crops and sheet tiles (the training images' size)


def render_run(config: Path, *, out_root: Path, grain: float) -> Path:
    """Render the album of ``config`` with ``grain_intensity = grain`` into ``out_root``; returns
    the run folder. The override is a copy of the config beside the outputs, its relative paths
    made absolute, so the user's file is never touched."""
    from renderer.config.reading import read_yaml

    raw = read_yaml(config)
    base = config.resolve().parent
    album = dict(raw.get("album") or {})
    for key in ("root", "tracklist"):
        album[key] = str(
            base / album.get(key, "album" if key == "root" else "album/tracklist.json")
        )
    model = dict(raw.get("model") or {})
    model["dir"] = str(base / model.get("dir", "models"))
    raw.update(album=album, model=model, output_root=str(out_root.resolve()),
               postfx={**(raw.get("postfx") or {}), "grain_intensity": grain})  # fmt: skip
    out_root.mkdir(parents=True, exist_ok=True)
    override = out_root / "visual_quality.render.json"  # JSON is YAML: read_yaml takes it
    override.write_text(json.dumps(raw, indent=1))
    before = set(out_root.glob("run-*"))
    script = ROOT / "renderer" / "render_album.py"
    subprocess.run([sys.executable, str(script), "--config", str(override)], check=True)
    runs = sorted(set(out_root.glob("run-*")) - before) or sorted(out_root.glob("run-*"))
    if not runs:
        raise FileNotFoundError(f"{out_root}: the render wrote no run-* folder")
    return max(runs, key=lambda p: p.stat().st_mtime)


def run_videos(run: Path) -> dict[str, Path]:
    """``label → video`` for each track of a run (the album film is left out), labelled
    ``track (preset)`` when the run's resolved config names the presets."""
    presets: dict[str, str] = {}
    resolved = run / "config.resolved.json"
    if resolved.is_file():
        data = json.loads(resolved.read_text())
        default = (data.get("controller") or {}).get("preset")
        for track in data.get("tracks") or []:
            presets[track.get("id", "")] = track.get("preset") or default or ""
    videos = {}
    for path in sorted(run.glob("*.mp4")) or sorted(run.glob("*.mkv")):
        if path.stem == "album":
            continue
        preset = presets.get(path.stem)
        videos[f"{path.stem} ({preset})" if preset else path.stem] = path
    if not videos:
        raise FileNotFoundError(f"{run}: no track videos (*.mp4) to measure")
    return videos


def load_dataset(data: Path, *, limit: int | None = None) -> np.ndarray:
    """Training images ``uint8 [N, S, S, 3]`` in manifest order (``data/manifest.csv``; the
    held-out part is its start, as in ``training/evaluate.py``), or by name for a folder the
    manifest does not list."""
    from training.dataset import load_images

    manifest = ROOT / "data" / "manifest.csv"
    try:
        return load_images(data, manifest=manifest if manifest.is_file() else None, limit=limit)
    except FileNotFoundError:
        return load_images(data, manifest=None, limit=limit)


def model_samples(model_dir: Path, *, n: int, seed: int = 0) -> np.ndarray:
    """``n`` raw generator outputs ``uint8 [n, 256, 256, 3]`` from seeded N(0, 1) latents at the
    model's native 16×16 grid (no grading: what the model itself makes)."""
    from renderer.decode.decoder import open_decoder

    decoder = open_decoder(model_dir, batch_size=8)
    meta = decoder.meta
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, meta.latent_channels, *meta.base_latent_hw)).astype(np.float32)
    return decoder.decode(z)


def swd_crops(frames: list[np.ndarray], *, scale: float, n: int, seed: int = 0) -> np.ndarray:
    """``n`` 256² crops ``uint8 [n, 256, 256, 3]`` of ``frames`` reduced by ``scale`` (area) to
    the model's texture scale, at seeded positions cycling through the frames."""
    rng = np.random.default_rng(seed)
    crops = []
    for k in range(n):
        frame = frames[k % len(frames)]
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (max(CROP, round(w / scale)), max(CROP, round(h / scale))),
                           interpolation=cv2.INTER_AREA)  # fmt: skip
        y = int(rng.integers(0, small.shape[0] - CROP + 1))
        x = int(rng.integers(0, small.shape[1] - CROP + 1))
        crops.append(small[y : y + CROP, x : x + CROP])
    return np.stack(crops)


def swd_table(frames: np.ndarray, images: np.ndarray, *, holdout: int) -> dict:
    """SWD ×10³ per pyramid level and mean: frames vs the held-out images (the first
    ``holdout``) and the real-vs-real floor (the next ``holdout`` vs the same held-out set)."""
    import torch

    from training.metrics import swd_pyramid

    def tensor(batch: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 127.5 - 1.0

    n = min(holdout, len(frames), len(images) // 2)
    held, other = tensor(images[:n]), tensor(images[holdout : holdout + n])
    rows = {
        "real_vs_real": swd_pyramid(held, other),
        "frames": swd_pyramid(held, tensor(frames[:n])),
    }
    table = {k: {"swd": [round(v, 2) for v in lv], "swd_mean": round(float(np.mean(lv)), 2)}
             for k, lv in rows.items()}  # fmt: skip
    table["ratio"] = round(table["frames"]["swd_mean"] / table["real_vs_real"]["swd_mean"], 3)
    table["n"] = n
    return table


def _tile(image: np.ndarray) -> np.ndarray:
    """``image`` as a ``CROP × CROP`` tile at 1:1 pixels: centre-cropped, dark-padded if small."""
    h, w = image.shape[:2]
    y, x = max(0, (h - CROP) // 2), max(0, (w - CROP) // 2)
    part = image[y : y + CROP, x : x + CROP]
    tile = np.full((CROP, CROP, 3), 16, np.uint8)
    tile[: part.shape[0], : part.shape[1]] = part
    return tile


def visual_sheet(path: Path, *, frames: dict[str, np.ndarray], training: np.ndarray,
                 samples: np.ndarray, per_row: int = 6) -> None:  # fmt: skip
    """Rows of 1:1 256² tiles: one row of crops per track's 1080p frame, then training images,
    then raw model samples; a 4-px dark gutter between tiles."""
    from PIL import Image

    rows = []
    for frame in frames.values():
        h, w = frame.shape[:2]
        xs = np.linspace(0, max(0, w - CROP), per_row).astype(int)
        rows.append([_tile(frame[max(0, (h - CROP) // 2) :, x : x + CROP]) for x in xs])
    rows.append([_tile(im) for im in training[:per_row]])
    rows.append([_tile(im) for im in samples[:per_row]])
    gap = 4
    sheet = np.full((len(rows) * (CROP + gap) + gap, per_row * (CROP + gap) + gap, 3), 16, np.uint8)
    for r, tiles in enumerate(rows):
        for c, tile in enumerate(tiles):
            y, x = gap + r * (CROP + gap), gap + c * (CROP + gap)
            sheet[y : y + CROP, x : x + CROP] = tile
    Image.fromarray(sheet).save(path)


def markdown(table: dict) -> str:
    """The issue's table: one row per image set / track, then the SWD line."""
    lines = ["| | sharpness | edge px | saturation | contrast | mean luma | luma per frame | bars |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, row in table["rows"].items():
        edge = "–" if row.get("edge_width") is None else f"{row['edge_width']:.1f}"
        if "luma" not in row:
            lines.append(f"| {name} | {row['sharpness']:.2f} | {edge} | | | | | |")
            continue
        bad = row.get("failures")
        lines.append(
            f"| {name} | {row['sharpness']:.2f} | {edge} | {row['saturation']:.2f}"
            f" | {row['contrast']:.0f}"
            f" | {row['luma']:.0f} | {row['luma_min']:.0f}–{row['luma_max']:.0f} | "
            f"{'; '.join(bad) if bad else ('ok' if bad is not None else '')} |"
        )
    swd = table.get("swd")
    if swd:
        lines.append("")
        lines.append(f"SWD ×10³ at 256² (n = {swd['n']}): frames {swd['frames']['swd_mean']}, "
                     f"real-vs-real floor {swd['real_vs_real']['swd_mean']} "
                     f"({swd['ratio']:.2f}×)")  # fmt: skip
    return "\n".join(lines) + "\n"


def reference_rows(images: np.ndarray) -> dict[str, dict]:
    """The table's first rows: the training images natively, and 16 of them 4× bicubic (only
    the two measures of detail: enlarging changes no colour statistic)."""
    return {
        "training images (native)": frames_row(list(images)),
        "same images, 4× bicubic upscale": {
            k: v
            for k, v in frames_row([enlarge(im) for im in images[:16]]).items()
            if k in ("sharpness", "edge_width")
        },
    }


def measure(run: Path, *, data: Path, model_dir: Path, holdout: int, every: float) -> tuple:
    videos = run_videos(run)
    frames = {name: encoded_frames(path, every=every) for name, path in videos.items()}
    images = load_dataset(data, limit=2 * holdout)
    rows = reference_rows(images)
    for name, track_frames in frames.items():
        row = frames_row(track_frames)
        rows[name] = {**row, "failures": failures(row)}
    everything = [f for fs in frames.values() for f in fs]
    scale = everything[0].shape[0] / 272.0  # 1080p → the 272×480 decode's texture scale
    table = {"run": str(run), "every_s": every, "bars": RANGES, "rows": rows,
             "swd": swd_table(swd_crops(everything, scale=scale, n=holdout), images,
                              holdout=holdout)}  # fmt: skip
    middles = {name: fs[len(fs) // 2] for name, fs in frames.items()}
    return table, middles, images, model_samples(model_dir, n=6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a finished run folder (renders/<run-id>)")
    parser.add_argument("--config", type=Path, default=ROOT / "render.yaml",
                        help="render config when no --run is given (default: render.yaml)")  # fmt: skip
    parser.add_argument("--grain", type=float, default=0.0, help="grain for the render (0)")
    parser.add_argument("--out", type=Path, help="output folder (default: the run folder)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "sample",
                        help="training images (default: data/sample)")  # fmt: skip
    parser.add_argument("--model", type=Path, default=ROOT / "models", help="model folder")
    parser.add_argument("--holdout", type=int, default=64, help="held-out images for the SWD")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between frames")
    args = parser.parse_args(argv)
    run = args.run or render_run(args.config, out_root=ROOT / "renders" / "visual-quality",
                                 grain=args.grain)  # fmt: skip
    out = args.out or run
    out.mkdir(parents=True, exist_ok=True)
    table, middles, images, samples = measure(run, data=args.data, model_dir=args.model,
                                              holdout=args.holdout, every=args.every)  # fmt: skip
    (out / "visual_quality.json").write_text(json.dumps(table, indent=1))
    (out / "visual_quality.md").write_text(markdown(table))
    visual_sheet(out / "visual_sheet.png", frames=middles, training=images, samples=samples)
    print(markdown(table), end="")
    print(f"wrote {out / 'visual_quality.json'}, visual_quality.md, visual_sheet.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
