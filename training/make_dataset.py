"""Generate (or verify) the training set with the procedural backend.

``python training/make_dataset.py`` writes ``data/full/<index>-<bucket>.png`` + sidecar JSON for
every job of ``training/prompts.yaml`` (default 5,000 at 256²), ``data/manifest.csv`` (sha256 of each
PNG file and of its decoded pixels), a stratified committed sample in ``data/sample/`` and
``data/contact_sheet.png``. It resumes: images whose file already matches are skipped.
``--verify`` regenerates nothing and checks a folder against the manifest.

The sidecar format is the one ``training/sd_generate.py`` writes, with ``model`` set to
``procedural-v1`` — a later SD 1.5 run can replace the set without touching the training code.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

if __package__ in (None, ""):  # `python training/make_dataset.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.procedural import generate
from training.prompts import PROMPTS_PATH, Job, build_jobs, load_prompts

MODEL_ID = "procedural-v1"
FIELDS = ("file", "bucket", "seed", "sha256", "pixels_sha256", "width", "height", "prompt")


def png_bytes(img: np.ndarray) -> bytes:
    """Deterministic PNG encoding (no metadata, fixed zlib level)."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=6, optimize=False)
    return buf.getvalue()


def pixels_sha256(path: Path) -> str:
    return hashlib.sha256(np.asarray(Image.open(path).convert("RGB")).tobytes()).hexdigest()


def image_name(job: Job) -> str:
    return f"{job.index:05d}-{job.bucket}.png"


def make_one(job: Job, out_dir: Path, *, size: int) -> dict:
    img = generate(job.bucket, job.seed, size=size)
    data = png_bytes(img)
    path = out_dir / image_name(job)
    tmp = path.with_suffix(".png.partial")
    tmp.write_bytes(data)
    tmp.replace(path)
    sidecar = {
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "bucket": job.bucket,
        "seed": job.seed,
        "steps": job.steps,
        "cfg": job.cfg,
        "model": MODEL_ID,
        "width": size,
        "height": size,
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1))
    return {
        "file": path.name,
        "bucket": job.bucket,
        "seed": job.seed,
        "sha256": hashlib.sha256(data).hexdigest(),
        "pixels_sha256": hashlib.sha256(img.tobytes()).hexdigest(),
        "width": size,
        "height": size,
        "prompt": job.prompt,
    }


def read_manifest(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_manifest(rows: list[dict], path: Path) -> None:
    tmp = path.with_suffix(".csv.partial")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def verify(folder: Path, manifest: Path) -> list[str]:
    """Problems found (missing files, hash mismatches); empty when the folder matches."""
    problems = []
    for row in read_manifest(manifest):
        path = folder / row["file"]
        if not path.is_file():
            problems.append(f"{path}: missing")
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != row["sha256"]:
            # Different zlib builds may compress differently: the pixels decide.
            if pixels_sha256(path) != row["pixels_sha256"]:
                problems.append(f"{path}: pixels differ from the manifest")
    return problems


def contact_sheet(paths: list[Path], out: Path, *, columns: int = 10, thumb: int = 96) -> None:
    rows = (len(paths) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * thumb, rows * thumb), (16, 16, 16))
    for i, path in enumerate(paths):
        img = Image.open(path).convert("RGB").resize((thumb, thumb), Image.Resampling.BILINEAR)
        sheet.paste(img, ((i % columns) * thumb, (i // columns) * thumb))
    sheet.save(out)


def make_dataset(
    *,
    count: int,
    data_dir: Path,
    size: int = 256,
    sample: int = 60,
    prompts: Path = PROMPTS_PATH,
    progress: bool = True,
) -> dict:
    """Generate/resume the set; returns a summary dict."""
    full = data_dir / "full"
    full.mkdir(parents=True, exist_ok=True)
    jobs = build_jobs(load_prompts(prompts), count)
    manifest_path = data_dir / "manifest.csv"
    known = {}
    if manifest_path.exists():
        known = {r["file"]: r for r in read_manifest(manifest_path)}
    rows, made, start = [], 0, time.perf_counter()
    for job in jobs:
        name = image_name(job)
        row = known.get(name)
        path = full / name
        if (
            row
            and path.is_file()
            and hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"]
        ):
            rows.append(row)
            continue
        rows.append(make_one(job, full, size=size))
        made += 1
        if made % 100 == 0:
            write_manifest(
                rows + [known[k] for k in known if k not in {r["file"] for r in rows}],
                manifest_path,
            )
            if progress:
                rate = made / (time.perf_counter() - start)
                print(f"{len(rows)}/{count} images ({rate:.1f}/s)", flush=True)
    write_manifest(rows, manifest_path)
    # A stratified sample is committed so the repository shows the data without carrying it all.
    sample_dir = data_dir / "sample"
    if sample_dir.exists():
        shutil.rmtree(sample_dir)
    sample_dir.mkdir()
    picks = [r["file"] for r in rows[: max(sample, 0)]]
    for name in picks:
        shutil.copy2(full / name, sample_dir / name)
        shutil.copy2((full / name).with_suffix(".json"), (sample_dir / name).with_suffix(".json"))
    contact_sheet([sample_dir / n for n in picks], data_dir / "contact_sheet.png")
    (full / "DONE").write_text(f"{len(rows)}\n")
    return {"images": len(rows), "generated": made, "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--sample", type=int, default=60, help="images copied to data/sample/")
    parser.add_argument("--prompts", type=Path, default=PROMPTS_PATH)
    parser.add_argument(
        "--verify", action="store_true", help="check data/full against the manifest"
    )
    args = parser.parse_args(argv)
    if args.verify:
        problems = verify(args.data_dir / "full", args.data_dir / "manifest.csv")
        for p in problems[:20]:
            print(p)
        print(f"{'OK' if not problems else 'FAILED'}: {len(problems)} problem(s)")
        return 1 if problems else 0
    summary = make_dataset(
        count=args.count,
        data_dir=args.data_dir,
        size=args.size,
        sample=args.sample,
        prompts=args.prompts,
    )
    print(f"{summary['images']} images ({summary['generated']} new) in {summary['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
