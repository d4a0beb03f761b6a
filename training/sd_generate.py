"""Generate the training set with Stable Diffusion 1.5 (diffusers), where the weights are available.

    python training/sd_generate.py --model /path/to/stable-diffusion-v1-5 --out data/sd --count 5000
    python training/sd_generate.py --model runwayml/stable-diffusion-v1-5 ...   # hub id, with internet

Writes ``<out>/full/<index>-<bucket>.png`` + sidecar JSON (prompt, negative prompt, seed, steps,
CFG, model id) and ``<out>/manifest.csv`` in the same format as ``training/make_dataset.py``, so the
training code reads either set. Every image has its own ``torch.Generator`` seeded from the job,
so a rerun — or a resumed run, which skips images whose file matches the manifest — repeats it.
With ``--clip-model DIR`` (a local CLIP model folder) the worst ``--cull`` fraction by CLIP
image–text similarity is moved to ``<out>/culled/`` (PNG + JSON, listed in ``culled/manifest.csv``
with the same fields); ``<out>/clip_scores.csv`` marks every image's score and whether it was culled.
No weights ship with this repository.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # `python training/sd_generate.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer.errors import ModelError
from training.make_dataset import (
    image_name,
    job_sidecar,
    png_bytes,
    read_manifest,
    sha256_bytes,
    write_manifest,
)
from training.prompts import PROMPTS_PATH, Job, build_jobs, load_prompts


def pick_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_pipeline(model: str, *, device: str = "auto", fp16: bool = True):
    """A ``StableDiffusionPipeline`` from a local folder (offline) or a hub id.

    The safety checker is not loaded: prompts are abstract and it would need its own weights.
    Raises ``ModelError`` naming ``model`` when it cannot be loaded.
    """
    import torch
    from diffusers import StableDiffusionPipeline

    looks_local = model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1
    if looks_local and not Path(model).expanduser().is_dir():
        raise ModelError(f"{model}: no such model folder (expected a diffusers SD 1.5 folder)")
    device = pick_device(device)
    dtype = torch.float16 if fp16 and device == "cuda" else torch.float32
    local = Path(model).expanduser().is_dir()
    try:
        pipe = StableDiffusionPipeline.from_pretrained(
            str(Path(model).expanduser()) if local else model,
            dtype=dtype,
            safety_checker=None,
            requires_safety_checker=False,
            local_files_only=local,
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model}: cannot load a Stable Diffusion pipeline ({exc})") from exc
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def render_job(pipe, job: Job, *, width: int, height: int) -> np.ndarray:
    """One image ``[height, width, 3]`` uint8 for ``job`` (its own seeded generator)."""
    import torch

    # A CPU generator: diffusers draws the initial latents on it and moves them, so a seed gives
    # the same starting noise on CPU, CUDA or MPS (device generators differ between backends).
    generator = torch.Generator("cpu").manual_seed(job.seed)
    out = pipe(
        prompt=job.prompt,
        negative_prompt=job.negative_prompt,
        num_inference_steps=job.steps,
        guidance_scale=job.cfg,
        width=width,
        height=height,
        generator=generator,
        output_type="np",
    )
    return np.clip(np.asarray(out.images[0]) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def sidecar(job: Job, *, model_id: str, width: int, height: int) -> dict:
    return job_sidecar(job, model_id=model_id, width=width, height=height,
                       generator={"backend": "diffusers.StableDiffusionPipeline"})  # fmt: skip


def generate_set(
    pipe,
    jobs: list[Job],
    *,
    out_dir: Path,
    model_id: str,
    width: int,
    height: int,
    resume: bool = True,
    progress: bool = True,
) -> list[dict]:
    """Render ``jobs`` into ``out_dir/full`` and write ``out_dir/manifest.csv``; returns the rows."""
    full = out_dir / "full"
    full.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / "manifest.csv"
    known = {r["file"]: r for r in read_manifest(manifest)} if resume and manifest.exists() else {}
    rows, start = [], time.perf_counter()
    for n, job in enumerate(jobs, 1):
        name = image_name(job)
        path = full / name
        if (out_dir / "culled" / name).is_file():
            continue  # culled by an earlier run: not regenerated
        row = known.get(name)
        if row and path.is_file() and sha256_bytes(path.read_bytes()) == row["sha256"]:
            rows.append(row)
            continue
        img = render_job(pipe, job, width=width, height=height)
        data = png_bytes(img)
        tmp = path.with_suffix(".png.partial")
        tmp.write_bytes(data)
        tmp.replace(path)
        meta = sidecar(job, model_id=model_id, width=width, height=height)
        path.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
        rows.append(
            {
                "file": name,
                "bucket": job.bucket,
                "seed": job.seed,
                "sha256": sha256_bytes(data),
                "pixels_sha256": sha256_bytes(img.tobytes()),
                "width": width,
                "height": height,
                "model": model_id,
                "prompt": job.prompt,
            }
        )
        write_manifest(rows, manifest)  # each image is minutes of GPU work: record it at once
        if progress:
            print(f"{n}/{len(jobs)} {name} ({time.perf_counter() - start:.0f} s)", flush=True)
    write_manifest(rows, manifest)
    return rows


def clip_scores(
    paths: list[Path], prompts: list[str], *, clip_dir: Path, batch: int = 16
) -> np.ndarray:
    """CLIP image–text cosine similarity ``[N]`` of each image with its prompt (local model only)."""
    import torch
    from PIL import Image
    from transformers import CLIPModel, CLIPProcessor

    try:
        model = CLIPModel.from_pretrained(clip_dir, local_files_only=True).eval()
        processor = CLIPProcessor.from_pretrained(clip_dir, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{clip_dir}: cannot load a CLIP model ({exc})") from exc
    scores = []
    for i in range(0, len(paths), batch):
        images = [Image.open(p).convert("RGB") for p in paths[i : i + batch]]
        inputs = processor(
            text=prompts[i : i + batch],
            images=images,
            return_tensors="pt",
            padding=True,
            truncation=True,
        )
        with torch.no_grad():
            out = model(**inputs)
        img = torch.nn.functional.normalize(out.image_embeds, dim=-1)
        txt = torch.nn.functional.normalize(out.text_embeds, dim=-1)
        scores.append((img * txt).sum(dim=-1).numpy())
    return np.concatenate(scores) if scores else np.zeros(0)


def cull(rows: list[dict], scores: np.ndarray, *, out_dir: Path, fraction: float) -> list[dict]:
    """Move the worst images (lowest ``scores[i]`` for ``rows[i]``) to ``out_dir/culled`` so that
    ``fraction`` of the whole set (kept + culled by earlier runs) is culled; return the kept rows.

    Rewrites ``manifest.csv`` (kept), ``culled/manifest.csv`` (same fields, every culled image) and
    ``clip_scores.csv`` (file, clip_score, culled) — a rerun therefore never culls twice.
    """
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction: must be in [0, 1) (got {fraction})")
    if len(scores) != len(rows):
        raise ValueError(f"scores: {len(scores)} scores for {len(rows)} images")
    culled_dir = out_dir / "culled"
    culled_manifest = culled_dir / "manifest.csv"
    previous = read_manifest(culled_manifest) if culled_manifest.exists() else []
    names = {r["file"] for r in rows}
    previous = [r for r in previous if r["file"] not in names]  # regenerated ones count as kept
    n_cut = max(int(round((len(rows) + len(previous)) * fraction)) - len(previous), 0)
    worst = set(np.argsort(scores, kind="stable")[:n_cut].tolist())
    culled_dir.mkdir(exist_ok=True)
    kept = []
    for i, row in enumerate(rows):
        if i in worst:
            src = out_dir / "full" / row["file"]
            for path in (src, src.with_suffix(".json")):
                if path.exists():
                    shutil.move(str(path), culled_dir / path.name)
        else:
            kept.append(row)
    with open(out_dir / "clip_scores.csv", "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["file", "clip_score", "culled"])
        for i, row in enumerate(rows):
            writer.writerow([row["file"], f"{float(scores[i]):.5f}", int(i in worst)])
    write_manifest(kept, out_dir / "manifest.csv")
    write_manifest(previous + [rows[i] for i in sorted(worst)], culled_manifest)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="local diffusers folder or hub id of SD 1.5")
    parser.add_argument("--out", type=Path, default=Path("data/sd"), help="output folder")
    parser.add_argument("--count", type=int, default=5000, help="images (jobs) to generate")
    parser.add_argument("--prompts", type=Path, default=PROMPTS_PATH)
    parser.add_argument("--resolution", type=int, default=None, help="override prompts.yaml (512)")
    parser.add_argument("--device", default="auto", help="auto, cuda, cpu, mps")
    parser.add_argument("--fp32", action="store_true", help="float32 on CUDA (default float16)")
    parser.add_argument("--no-resume", action="store_true", help="regenerate every image")
    parser.add_argument(
        "--clip-model",
        "--clip",
        dest="clip",
        type=Path,
        default=None,
        help="local CLIP model folder (transformers CLIPModel + CLIPProcessor) for culling",
    )
    parser.add_argument("--cull", type=float, default=0.15, help="fraction culled with --clip")
    parser.add_argument(
        "--steps", type=int, default=None, help="override every job's steps (quick previews, tests)"
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count must be ≥ 1 (got {args.count})")
    if not 0.0 <= args.cull < 1.0:
        parser.error(f"--cull must be in [0, 1) (got {args.cull})")
    config = load_prompts(args.prompts)
    size = args.resolution or config.resolution
    if size % 8:
        parser.error(f"--resolution must be a multiple of 8 (got {size})")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be ≥ 1 (got {args.steps})")
    jobs = build_jobs(config, args.count)
    if args.steps is not None:
        jobs = [dataclasses.replace(j, steps=args.steps) for j in jobs]
    try:
        pipe = load_pipeline(args.model, device=args.device, fp16=not args.fp32)
        rows = generate_set(
            pipe,
            jobs,
            out_dir=args.out,
            model_id=args.model,
            width=size,
            height=size,
            resume=not args.no_resume,
            progress=not args.quiet,
        )
        if args.clip is not None:
            paths = [args.out / "full" / r["file"] for r in rows]
            scores = clip_scores(paths, [r["prompt"] for r in rows], clip_dir=args.clip)
            rows = cull(rows, scores, out_dir=args.out, fraction=args.cull)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{len(rows)} images in {args.out / 'full'} (manifest {args.out / 'manifest.csv'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
