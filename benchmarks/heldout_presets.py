"""Every shipped preset on recordings the project was not tuned on, measured at 1080p (issue 9).

``python benchmarks/heldout_presets.py a.ogg b.flac`` renders a 10-s excerpt of each recording
with each preset (grain 0: the measure of detail counts grain as detail; ``--upscale bicubic``
for the enlargement without the learned upscaler) as one album run, then
reads the encoded files back at full size, one frame per second, and writes per recording and
preset the sharpness, edge width, saturation, contrast and mean luma with the bars they miss
(``renderer/fx/frame_stats.py``), beside the training images. Written into ``--out`` (default
``renders/heldout``): ``heldout_presets.json`` and ``heldout_presets.md``.

This is the issue's own procedure ("10-s 1080p renders of held-out real recordings, one preset
each"), for any recordings: the ones in ``../shared/audio`` are third-party and never committed.
A recording that fails to render is reported and the others are still measured.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/heldout_presets.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.visual_quality import load_dataset, reference_rows
from renderer.fx.quality import encoded_frames, failures, frames_row
from renderer.presets import list_presets

ROOT = Path(__file__).resolve().parents[1]


def track_id(recording: Path, preset: str) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", recording.stem.lower()).strip("-") or "recording"
    return f"{stem[:40]}--{preset}"


def heldout_config(recordings: list[Path], presets: list[str], *, start: float, seconds: float,
                   grain: float, out_root: Path, upscale: str = "learned") -> Path:  # fmt: skip
    """An album config (and its tracklist) with one track per recording × preset, each trimmed
    to ``[start, start + seconds]``; written under ``out_root`` with copies of the recordings,
    the user's files untouched."""
    from renderer.config.reading import read_yaml

    raw = read_yaml(ROOT / "render.yaml")
    audio = out_root / "audio"  # a track's source must lie inside the album root: copies
    audio.mkdir(parents=True, exist_ok=True)
    tracklist, tracks = [], []
    for recording in recordings:
        shutil.copyfile(recording, audio / recording.name)
        for preset in presets:
            tid = track_id(recording, preset)
            tracklist.append({"id": tid, "src": f"audio/{recording.name}",
                              "title": f"{recording.stem} ({preset})"})  # fmt: skip
            tracks.append({"id": tid, "preset": preset,
                           "trim": {"start": start, "end": start + seconds}})  # fmt: skip
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / "tracklist.json").write_text(json.dumps(tracklist, indent=1))
    raw.update(
        output_root=str(out_root.resolve()),
        album={"root": str(out_root.resolve()), "tracklist": str(out_root / "tracklist.json")},
        model={**(raw.get("model") or {}), "dir": str(ROOT / "models")},
        postfx={**(raw.get("postfx") or {}), "grain_intensity": grain, "upscale": upscale},
        tracks=tracks,
    )
    config = out_root / "heldout.render.json"  # JSON is YAML: the renderer reads it
    config.write_text(json.dumps(raw, indent=1))
    return config


def render(config: Path, out_root: Path) -> Path:
    """Render the album of ``config``; the newest ``run-*`` folder. A failed track leaves the
    others rendered (the album renderer goes on), so a non-zero exit is not fatal here."""
    script = ROOT / "renderer" / "render_album.py"
    done = subprocess.run([sys.executable, str(script), "--config", str(config)], check=False)
    runs = sorted(out_root.glob("run-*"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise SystemExit(f"{out_root}: the render wrote no run folder (exit {done.returncode})")
    return runs[-1]


def measure(run: Path, recordings: list[Path], presets: list[str], *, every: float) -> dict:
    rows = reference_rows(load_dataset(ROOT / "data" / "sample", limit=64))
    for recording in recordings:
        for preset in presets:
            name, video = f"{recording.stem} / {preset}", run / f"{track_id(recording, preset)}.mp4"
            if not video.is_file():
                rows[name] = {"error": f"{video.name}: not rendered (see the run's log)"}
                continue
            row = frames_row(encoded_frames(video, every=every))
            rows[name] = {**row, "failures": failures(row)}
    return {"run": str(run), "every_s": every, "rows": rows}


def markdown(table: dict) -> str:
    lines = ["| recording / preset | sharpness | edge px | saturation | contrast | mean luma | bars |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, row in table["rows"].items():
        if "error" in row:
            lines.append(f"| {name} | | | | | | {row['error']} |")
            continue
        edge = "–" if row.get("edge_width") is None else f"{row['edge_width']:.1f}"
        if "luma" not in row:
            lines.append(f"| {name} | {row['sharpness']:.2f} | {edge} | | | | |")
            continue
        bad = row.get("failures")  # None for the training images: no bars
        verdict = "" if bad is None else "; ".join(bad) or "ok"
        lines.append(f"| {name} | {row['sharpness']:.2f} | {edge} | {row['saturation']:.2f} | "
                     f"{row['contrast']:.0f} | {row['luma']:.0f} | {verdict} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recordings", nargs="+", type=Path, metavar="AUDIO")
    parser.add_argument("--presets", help="comma-separated (default: every shipped preset)")
    parser.add_argument("--start", type=float, default=20.0, help="excerpt start, s (20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="excerpt length, s (10)")
    parser.add_argument("--grain", type=float, default=0.0, help="grain for the renders (0)")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between frames")
    parser.add_argument("--upscale", choices=("learned", "bicubic"), default="learned",
                        help="postfx.upscale of the renders (learned: the renderer's default)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "renders" / "heldout")
    parser.add_argument("--run", type=Path, help="measure this finished run instead of rendering")
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.recordings if not p.is_file()]
    if missing:
        parser.error(f"no such recording: {', '.join(missing)}")
    presets = args.presets.split(",") if args.presets else list_presets()
    unknown = sorted(set(presets) - set(list_presets()))
    if unknown:
        parser.error(f"unknown presets {unknown}; shipped: {', '.join(list_presets())}")
    config = heldout_config(args.recordings, presets, start=args.start, seconds=args.seconds,
                            grain=args.grain, out_root=args.out, upscale=args.upscale)  # fmt: skip
    run = args.run or render(config, args.out)
    table = measure(run, args.recordings, presets, every=args.every)
    (args.out / "heldout_presets.json").write_text(json.dumps(table, indent=1))
    (args.out / "heldout_presets.md").write_text(markdown(table))
    print(markdown(table), end="")
    print(f"wrote {args.out / 'heldout_presets.json'}, heldout_presets.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
