"""Export the EMA generator to the artefacts the renderer loads (``models/``).

``python training/export_onnx.py --checkpoint training/outputs/cpu/checkpoints/last.ckpt``

Writes ``generator.fp32.onnx`` (opset 18, dynamic batch/height/width; checked with the ONNX checker
and for parity with PyTorch), ``generator.safetensors`` (EMA weights, never a pickle),
``meta.json`` (see ``renderer/decode/model_meta.py``: latent shape, normalisation, artefact hashes,
anchor latents chosen among the detailed decodes to cover the model's range of colour and texture,
with their statistics,
PCA axes in latent-channel space, training config, dataset manifest hash) and ``samples.png``.
``--checkpoint`` is loaded with ``weights_only=True`` (``checkpoint_io.load_checkpoint``): a crafted
pickle is refused with an error naming the file, never executed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

if __package__ in (None, ""):  # `python training/export_onnx.py`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from renderer.control.motion import fit_grid
from renderer.decode.generator import Generator, sample_latents
from renderer.decode.model_meta import META_FORMAT, sha256_file

PARITY_ATOL = 1e-4  # max |ONNX − torch| on tanh outputs in [-1, 1] (fp32; observed ~1e-6)
CANVAS_HW = (17, 30)  # the latent grid of a 1920×1080 render (renderer/decode/model_meta.py)
STAT_NAMES = ("luma", "saturation", "warmth", "hue_deg", "contrast", "texture", "colourfulness")


def image_stats(rgb: np.ndarray) -> dict:
    """Colour/texture statistics of one image ``[H, W, 3]`` float in [0, 1]."""
    luma = rgb @ np.array([0.2126, 0.7152, 0.0722])
    mx, mn = rgb.max(axis=2), rgb.min(axis=2)
    saturation = float(((mx - mn) / (mx + 1e-3)).mean())
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colourfulness = float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))
    mean = rgb.reshape(-1, 3).mean(axis=0)
    a, b = mean[0] - mean[1], 0.5 * (mean[0] + mean[1]) - mean[2]
    texture = float(np.abs(np.diff(luma, axis=0)).mean() + np.abs(np.diff(luma, axis=1)).mean())
    return {
        "luma": round(float(luma.mean()), 4),
        "saturation": round(saturation, 4),
        "warmth": round(float(mean[0] - mean[2]), 4),
        "hue_deg": round(float(np.degrees(np.arctan2(b, a)) % 360), 2),
        "contrast": round(float(luma.std()), 4),
        "texture": round(texture, 4),
        "colourfulness": round(colourfulness, 4),
        "mean_rgb": [round(float(v), 4) for v in mean],
    }


def tags_for(stats: dict, medians: dict) -> list[str]:
    tags = ["warm" if stats["warmth"] > medians["warmth"] else "cool"]
    tags.append("bright" if stats["luma"] > medians["luma"] else "dark")
    tags.append("saturated" if stats["saturation"] > medians["saturation"] else "muted")
    tags.append("busy" if stats["texture"] > medians["texture"] else "calm")
    return tags


def canvas_detail(images: np.ndarray) -> np.ndarray:
    """Mean |Laplacian| of the luma (0–255) of each image ``[N, H, W, 3]`` in [0, 1]: the detail at
    the pixel. A flat field scores below 1, this generator's labyrinths and grain 20–60."""
    luma = (np.asarray(images, np.float32) @ np.float32([0.2126, 0.7152, 0.0722])) * 255
    return np.array([np.abs(cv2.Laplacian(y, cv2.CV_32F, ksize=1)).mean() for y in luma])


@torch.no_grad()
def choose_anchors(
    generator: Generator,
    *,
    count: int = 16,
    candidates: int = 96,
    seed: int = 0,
    detail_quantile: float = 0.5,
) -> list[dict]:
    """Farthest-point sampling in (normalised) stats space over the detailed part of ``candidates``
    random latents.

    Each candidate is also decoded on the canvas a 16:9 render draws (``CANVAS_HW``), and those
    below the ``detail_quantile`` of that canvas detail are not eligible (at least ``count`` stay).
    Farthest-point sampling alone favours the extremes, and this generator's extremes are flat
    saturated fields; the controller blends anchors, and a blend takes the look of its smoothest
    member, so one flat anchor softens every scene it is drawn into.
    """
    rng = np.random.default_rng(seed)
    seeds = rng.integers(0, 2**31 - 1, candidates)
    latents = torch.cat(
        [
            sample_latents(
                1, generator.config, (16, 16), generator=torch.Generator().manual_seed(int(s))
            )
            for s in seeds
        ]
    ).numpy()
    images, detail = [], []
    for chunk in np.array_split(latents, max(1, candidates // 16)):
        out = generator(torch.from_numpy(chunk)).permute(0, 2, 3, 1).numpy()
        images.extend((out + 1) / 2)
        wide = np.stack([fit_grid(z, hw=CANVAS_HW) for z in chunk])
        canvas = generator(torch.from_numpy(wide)).permute(0, 2, 3, 1).numpy()
        detail.extend(canvas_detail((canvas + 1) / 2))
    stats = [
        image_stats(img) | {"detail": round(float(d), 2)}
        for img, d in zip(images, detail, strict=True)
    ]
    keep = max(count, int(np.ceil((1 - detail_quantile) * candidates)))
    eligible = np.sort(np.argsort(-np.asarray(detail), kind="stable")[:keep])
    keys = ("luma", "saturation", "warmth", "contrast", "texture", "colourfulness")
    feats = np.array([[stats[j][k] for k in keys] for j in eligible])
    feats = (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-9)
    picked = [int(np.argmax(np.linalg.norm(feats, axis=1)))]
    while len(picked) < min(count, len(eligible)):
        dist = np.min(np.linalg.norm(feats[:, None] - feats[picked][None], axis=2), axis=1)
        picked.append(int(np.argmax(dist)))
    medians = {
        k: float(np.median([s[k] for s in stats]))
        for k in ("warmth", "luma", "saturation", "texture")
    }
    return [
        {
            "id": f"anchor-{i:02d}",
            "seed": int(seeds[j]),
            "latent": np.round(latents[j], 4).tolist(),
            "stats": stats[j],
            "tags": tags_for(stats[j], medians),
        }
        for i, j in enumerate(eligible[picked])
    ]


@torch.no_grad()
def channel_axes(
    generator: Generator, *, samples: int = 8, delta: float = 0.5, seed: int = 1
) -> dict:
    """Directions in latent-channel space ordered by how much they change the image.

    For each channel c, the latent is pushed by ``delta`` along e_c at every location and the change
    of image statistics is measured; the SVD of that effect matrix ``[C, F]`` gives orthonormal
    channel-space axes (left singular vectors) and their share of the visual effect.
    """
    c = generator.config.latent_channels
    z = sample_latents(
        samples, generator.config, (8, 8), generator=torch.Generator().manual_seed(seed)
    )

    def feats(x: torch.Tensor) -> np.ndarray:
        imgs = ((generator(x) + 1) / 2).permute(0, 2, 3, 1).numpy()
        return np.array(
            [[image_stats(i)[k] for k in STAT_NAMES if k != "hue_deg"] for i in imgs]
        ).mean(axis=0)

    base = feats(z)
    effect = np.stack(
        [feats(z + delta * torch.eye(c)[k][None, :, None, None]) - base for k in range(c)]
    )
    u, s, _ = np.linalg.svd(effect, full_matrices=False)
    variance = s**2 / (np.sum(s**2) + 1e-12)
    return {
        "basis": np.round(u.T, 5).tolist(),
        "explained_variance": np.round(variance, 4).tolist(),
    }


def export_onnx(generator: Generator, path: Path, *, opset: int = 18) -> float:
    """Write the ONNX graph with dynamic batch/height/width; returns max parity error."""
    import onnx
    import onnxruntime as ort

    generator = generator.eval()
    c = generator.config.latent_channels
    example = torch.randn(1, c, 16, 16)
    batch, height, width = (torch.export.Dim(n, min=1, max=4096) for n in ("batch", "h", "w"))
    program = torch.onnx.export(
        generator,
        (example,),
        dynamo=True,
        opset_version=opset,
        input_names=["z"],
        output_names=["rgb"],
        dynamic_shapes=({0: batch, 2: height, 3: width},),
    )
    program.save(str(path))
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for shape in ((2, c, 16, 16), (1, c, 17, 30), (3, c, 4, 4)):
        z = torch.randn(*shape)
        with torch.no_grad():
            ref = generator(z).numpy()
        got = session.run(None, {session.get_inputs()[0].name: z.numpy()})[0]
        worst = max(worst, float(np.abs(got - ref).max()))
    if worst > PARITY_ATOL:
        raise RuntimeError(f"{path}: ONNX/torch parity error {worst:.2e} > {PARITY_ATOL:.0e}")
    return worst


def export_artefacts(
    generator: Generator,
    out_dir: str | Path,
    *,
    training_info: dict | None = None,
    manifest: Path | None = None,
    anchors: int = 16,
    candidates: int = 96,
    samples_png: bool = True,
) -> dict:
    """Write all renderer artefacts for ``generator`` into ``out_dir``; returns the meta dict."""
    from safetensors.torch import save_file

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    generator = generator.eval()
    onnx_path = out_dir / "generator.fp32.onnx"
    parity = export_onnx(generator, onnx_path)
    st_path = out_dir / "generator.safetensors"
    save_file({k: v.contiguous() for k, v in generator.state_dict().items()}, str(st_path))
    st_path.chmod(0o644)  # safetensors writes 0600; the artefact is meant to be shared
    anchor_list = choose_anchors(generator, count=anchors, candidates=max(candidates, anchors))
    meta = {
        "format": META_FORMAT,
        "version": "1",
        "latent_shape": [generator.config.latent_channels, 16, 16],
        "scale": generator.config.scale,
        "output": {
            "range": [-1, 1],
            "layout": "NCHW",
            "channels": "RGB",
            "to_uint8": "(x + 1) * 127.5",
        },
        "artefacts": {
            "onnx": {
                "path": onnx_path.name,
                "sha256": sha256_file(onnx_path),
                "opset": 18,
                "dynamic_axes": ["batch", "h", "w"],
                "parity_max_abs": parity,
            },
            "safetensors": {"path": st_path.name, "sha256": sha256_file(st_path)},
        },  # fmt: skip
        "generator_config": generator.config.to_dict(),
        "parameters": sum(p.numel() for p in generator.parameters()),
        "anchors": anchor_list,
        "pca_axes": channel_axes(generator),
        "training": training_info or {},
        "dataset_manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest()
        if manifest and manifest.exists()
        else None,
        "versions": _versions(),
    }
    meta["artefacts"].update(kept_upscaler(out_dir))
    (out_dir / "meta.json").write_text(json.dumps(meta))
    if samples_png:
        save_previews(generator, anchor_list, out_dir)
    return meta


def kept_upscaler(out_dir: Path) -> dict:
    """The learned upscaler listed in ``out_dir``'s existing ``meta.json`` (it is trained apart
    from the generator, ``training/train_upscaler.py``), while its file is still there."""
    try:
        entry = json.loads((out_dir / "meta.json").read_text())["artefacts"]["upscaler"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {"upscaler": entry} if (out_dir / str(entry.get("path", ""))).is_file() else {}


def _versions() -> dict:
    import onnx
    import onnxruntime

    return {"torch": torch.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__, "onnx_opset": 18}  # fmt: skip


@torch.no_grad()
def save_previews(generator: Generator, anchors: list[dict], out_dir: Path) -> None:
    """``samples.png`` (the anchors, 256² each), ``interpolation.png`` (slerp sweeps between
    consecutive anchor pairs, 8 steps per row) and ``canvas_16x9.png`` (six anchors on the 272×480
    canvas the renderer decodes): what the committed model makes and how it moves."""
    from training.visualise import save_grid

    z = torch.from_numpy(np.stack([np.asarray(a["latent"], np.float32) for a in anchors]))
    save_grid(generator(z), out_dir / "samples.png", columns=4)
    t = torch.linspace(0, 1, 8)[:, None, None, None]
    rows = []
    for a, b in list(zip(z[0::2], z[1::2], strict=False))[:4]:
        # variance-preserving blend, like the controller's crossfades
        rows.append(generator(((1 - t) * a + t * b) / torch.sqrt((1 - t) ** 2 + t**2)))
    save_grid(torch.cat(rows), out_dir / "interpolation.png", columns=8)
    # what the renderer decodes for 16:9 output: anchors centred on the canvas grid
    wide = np.stack([fit_grid(a.numpy(), hw=CANVAS_HW) for a in z[:6]])
    save_grid(generator(torch.from_numpy(wide)), out_dir / "canvas_16x9.png", columns=2)


def main(argv: list[str] | None = None) -> int:
    from training.checkpoint_io import (
        CheckpointConfigError,
        UnsafeCheckpointError,
        load_ema_generator,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("training/outputs/cpu/checkpoints/last.ckpt")
    )
    parser.add_argument("--out", type=Path, default=Path("models"))
    parser.add_argument("--manifest", type=Path, default=Path("data/manifest.csv"))
    parser.add_argument("--anchors", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=96, help="latents to choose anchors from")
    parser.add_argument(
        "--validation", type=Path, default=None, help="swd_table.json (training/evaluate.py)"
    )
    parser.add_argument("--detail-gain", type=float, default=None, metavar="G",
                        help="the generator's output detail filter gain (default: the run's own)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        generator, info = load_ema_generator(args.checkpoint, detail_gain=args.detail_gain)
    except (CheckpointConfigError, UnsafeCheckpointError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.validation is not None:
        info["validation"] = json.loads(args.validation.read_text())
    meta = export_artefacts(generator, args.out, training_info=info, manifest=args.manifest,
                            anchors=args.anchors, candidates=args.candidates)  # fmt: skip
    print(f"exported to {args.out}: parity {meta['artefacts']['onnx']['parity_max_abs']:.2e}, "
          f"{len(meta['anchors'])} anchors, {meta['parameters']} parameters")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
