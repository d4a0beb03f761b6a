"""Generate (or verify) the training set with the procedural backend.

``python training/make_dataset.py`` (or ``nts-make-dataset``) writes
``data/full/<index>-<bucket>.png`` + a sidecar JSON for every job of ``training/prompts.yaml``
(default 5,000 at 256²), ``data/manifest.csv`` (sha256 of each PNG file and of its decoded RGB
pixels), a bucket-stratified committed sample in ``data/sample/`` and ``data/contact_sheet.png``,
then ``data/full/DONE``. It resumes: images whose file matches the manifest are skipped.
``--verify [DIR]`` regenerates nothing and checks a folder against the manifest.

The sidecar format is the one ``training/sd_generate.py`` writes, with ``model`` set to
``procedural-v1``, so an SD 1.5 set can replace this one without touching the training code.
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

from training.procedural import BUCKETS, MODEL_ID, generate
from training.prompts import PROMPTS_PATH, Job, build_jobs, load_prompts

FIELDS = ("file", "bucket", "seed", "sha256", "pixels_sha256", "width", "height", "model", "prompt")


def png_bytes(img: np.ndarray) -> bytes:
    """PNG bytes of ``img`` ``[H, W, 3]`` uint8; a fixed zlib level and no metadata chunks
    (no timestamps, no text) make the bytes a function of the pixels alone."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=6, optimize=False)
    return buf.getvalue()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pixels_sha256(path: Path) -> str:
    """sha256 of the decoded RGB pixels of the image at ``path``."""
    with Image.open(path) as im:
        return sha256_bytes(np.asarray(im.convert("RGB")).tobytes())


def image_name(job: Job) -> str:
    return f"{job.index:05d}-{job.bucket}.png"


def job_sidecar(job: Job, *, model_id: str, width: int, height: int, generator: dict) -> dict:
    """The JSON written beside each image — one format for the procedural and SD backends."""
    return {
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "bucket": job.bucket,
        "seed": job.seed,
        "steps": job.steps,
        "cfg": job.cfg,
        "model": model_id,
        "width": width,
        "height": height,
        "generator": generator,
    }


def sidecar(job: Job, *, size: int) -> dict:
    """Sidecar of a procedural image."""
    params = {
        "backend": "training.procedural",
        "bucket": job.bucket,
        "seed": job.seed,
        "size": size,
    }
    return job_sidecar(job, model_id=MODEL_ID, width=size, height=size, generator=params)


def make_one(job: Job, out_dir: Path, *, size: int) -> dict:
    """Generate, write (atomically) and describe one image; returns its manifest row."""
    img = generate(job.bucket, job.seed, size=size)
    data = png_bytes(img)
    path = out_dir / image_name(job)
    tmp = path.with_suffix(".png.partial")
    tmp.write_bytes(data)
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(sidecar(job, size=size), indent=1) + "\n")
    return {
        "file": path.name,
        "bucket": job.bucket,
        "seed": job.seed,
        "sha256": sha256_bytes(data),
        "pixels_sha256": sha256_bytes(img.tobytes()),
        "width": size,
        "height": size,
        "model": MODEL_ID,
        "prompt": job.prompt,
    }


def read_manifest(path: Path) -> list[dict]:
    """Rows of ``manifest.csv`` as dicts (all values strings)."""
    try:
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise FileNotFoundError(f"{path}: cannot read manifest ({exc.strerror})") from exc


def write_manifest(rows: list[dict], path: Path) -> None:
    tmp = path.with_suffix(".csv.partial")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def verify(folder: Path, manifest: Path) -> list[str]:
    """Problems found (missing files, hash mismatches); empty when ``folder`` matches."""
    problems = []
    for row in read_manifest(manifest):
        path = folder / row["file"]
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256_bytes(path.read_bytes()) != row["sha256"]:
            # A different zlib build may compress differently: then the pixels decide.
            if pixels_sha256(path) != row["pixels_sha256"]:
                problems.append(f"{path}: pixels differ from the manifest")
    return problems


def _is_current(row: dict | None, path: Path) -> bool:
    return bool(
        row
        and row.get("model") == MODEL_ID
        and path.is_file()
        and path.with_suffix(".json").is_file()
        and sha256_bytes(path.read_bytes()) == row["sha256"]
    )


def stratified(rows: list[dict], count: int) -> list[dict]:
    """``count`` rows, an equal share from each bucket (first ones of each, in bucket order)."""
    by_bucket: dict[str, list[dict]] = {}
    for row in rows:
        by_bucket.setdefault(row["bucket"], []).append(row)
    names = [b for b in BUCKETS if b in by_bucket] + sorted(set(by_bucket) - set(BUCKETS))
    share = -(-count // max(len(names), 1))
    return [r for b in names for r in by_bucket[b][:share]][:count]


def contact_sheet(paths: list[Path], out: Path, *, columns: int = 16, thumb: int = 96) -> None:
    """Grid of thumbnails of ``paths`` written to ``out`` (PNG)."""
    rows = max((len(paths) + columns - 1) // columns, 1)
    sheet = Image.new("RGB", (columns * thumb, rows * thumb), (16, 16, 16))
    for i, path in enumerate(paths):
        with Image.open(path) as im:
            img = im.convert("RGB").resize((thumb, thumb), Image.Resampling.LANCZOS)
        sheet.paste(img, ((i % columns) * thumb, (i // columns) * thumb))
    sheet.save(out, format="PNG", compress_level=9)


def write_sample(rows: list[dict], full: Path, data_dir: Path, *, count: int) -> list[Path]:
    """Copy a stratified sample (PNG + JSON) into ``data_dir/sample`` and draw the contact sheet."""
    sample_dir = data_dir / "sample"
    if sample_dir.exists():
        shutil.rmtree(sample_dir)
    sample_dir.mkdir()
    picks = [r["file"] for r in stratified(rows, count)]
    for name in picks:
        shutil.copyfile(full / name, sample_dir / name)
        shutil.copyfile(
            (full / name).with_suffix(".json"), (sample_dir / name).with_suffix(".json")
        )
    paths = [sample_dir / n for n in picks]
    if paths:
        contact_sheet(paths, data_dir / "contact_sheet.png")
    return paths


def make_dataset(
    *,
    count: int,
    data_dir: Path,
    size: int = 256,
    sample: int = 160,
    prompts: Path = PROMPTS_PATH,
    progress: bool = True,
) -> dict:
    """Generate/resume ``count`` images under ``data_dir``; returns a summary dict
    (images, generated, seconds, seconds_per_image)."""
    full = data_dir / "full"
    full.mkdir(parents=True, exist_ok=True)
    (full / "DONE").unlink(missing_ok=True)
    jobs = build_jobs(load_prompts(prompts), count)
    manifest_path = data_dir / "manifest.csv"
    known = {r["file"]: r for r in read_manifest(manifest_path)} if manifest_path.exists() else {}
    rows: list[dict] = []
    made, start = 0, time.perf_counter()
    for job in jobs:
        name = image_name(job)
        if _is_current(known.get(name), full / name):
            rows.append(known[name])
            continue
        rows.append(make_one(job, full, size=size))
        made += 1
        if made % 100 == 0:
            write_manifest(rows, manifest_path)  # progress survives an interruption
            if progress:
                rate = made / (time.perf_counter() - start)
                print(f"{len(rows)}/{count} images ({rate:.1f}/s)", flush=True)
    write_manifest(rows, manifest_path)
    seconds = time.perf_counter() - start
    write_sample(rows, full, data_dir, count=sample)
    (full / "DONE").write_text(f"{len(rows)}\n")
    return {
        "images": len(rows),
        "generated": made,
        "seconds": seconds,
        "seconds_per_image": seconds / made if made else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="images to generate")
    parser.add_argument("--size", type=int, default=256, help="side length in pixels")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--sample", type=int, default=160, help="images copied to data/sample/")
    parser.add_argument("--prompts", type=Path, default=PROMPTS_PATH)
    parser.add_argument(
        "--verify",
        nargs="?",
        const="",
        metavar="DIR",
        help="check DIR (default DATA_DIR/full) against DATA_DIR/manifest.csv; generates nothing",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count must be ≥ 1 (got {args.count})")
    if args.verify is not None:
        folder = Path(args.verify) if args.verify else args.data_dir / "full"
        problems = verify(folder, args.data_dir / "manifest.csv")
        for p in problems[:20]:
            print(p)
        print(f"{'OK' if not problems else 'FAILED'}: {folder}: {len(problems)} problem(s)")
        return 1 if problems else 0
    summary = make_dataset(
        count=args.count,
        data_dir=args.data_dir,
        size=args.size,
        sample=args.sample,
        prompts=args.prompts,
        progress=not args.quiet,
    )
    print(
        f"{summary['images']} images ({summary['generated']} new) in {summary['seconds']:.0f} s "
        f"({summary['seconds_per_image'] * 1000:.0f} ms/image)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
