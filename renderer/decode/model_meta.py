"""``models/meta.json``: what the renderer knows about a generator, and hash verification.

The file is written by ``training/export_onnx.py``. Fields the renderer relies on::

    {
      "format": "noise-to-signal/generator-meta", "version": "1",
      "latent_shape": [8, 16, 16],          # training latent (C, h, w); any h, w work (fully conv.)
      "scale": 16,                           # output pixels per latent cell
      "output": {"range": [-1, 1], "layout": "NCHW", "channels": "RGB"},
      "artefacts": {"onnx": {"path": "generator.fp32.onnx", "sha256": "…"},
                    "safetensors": {"path": "generator.safetensors", "sha256": "…"}},
      "generator_config": {…},               # kwargs of renderer.decode.generator.GeneratorConfig
      "anchors": [{"id": "anchor-00", "seed": 3, "latent": [[[…]]],   # [C, 16, 16]
                   "stats": {"luma": 0.4, "saturation": 0.6, "warmth": 0.1, "hue_deg": 20.0,
                             "contrast": 0.2, "texture": 0.3, "colourfulness": 0.5,
                             "mean_rgb": [r, g, b]},
                   "tags": ["warm", "saturated"]}, …],
      "pca_axes": {"basis": [[… C floats …], …], "explained_variance": […]},
      …training config, dataset manifest hash, versions…
    }
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from renderer.errors import ModelError

META_FORMAT = "noise-to-signal/generator-meta"


@dataclass(frozen=True)
class Anchor:
    """A latent the controller interpolates between. ``latent`` is ``[C, h, w]`` float32."""

    id: str
    latent: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class ModelMeta:
    """Parsed ``meta.json``. ``pca_axes`` is ``[k, C]`` (channel-space directions, per location)."""

    model_dir: Path
    latent_channels: int
    base_latent_hw: tuple[int, int]
    scale: int
    anchors: tuple[Anchor, ...]
    pca_axes: np.ndarray
    artefacts: dict[str, dict[str, Any]]
    generator_config: dict[str, Any]
    output_range: tuple[float, float] = (-1.0, 1.0)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def artefact_path(self, kind: str) -> Path:
        """Path of artefact ``kind`` ("onnx" or "safetensors") inside ``model_dir``."""
        try:
            rel = self.artefacts[kind]["path"]
        except KeyError as exc:
            raise ModelError(
                f"{self.model_dir / 'meta.json'}: no '{kind}' artefact listed"
            ) from exc
        path = (self.model_dir / rel).resolve()
        if self.model_dir.resolve() not in path.parents:
            raise ModelError(
                f"{self.model_dir / 'meta.json'}: artefact path {rel!r} leaves {self.model_dir}"
            )
        return path


def latent_grid(
    resolution: tuple[int, int], *, scale: int = 16, upscale: int = 4
) -> tuple[int, int]:
    """Latent ``(h, w)`` for an output ``(width, height)``.

    Frames decode at ``(h*scale, w*scale)`` and are upscaled ``≈upscale``× to the output, so a
    1920×1080 render uses a (17, 30) grid → 272×480 native frames (16:9, model texture scale).
    """
    width, height = resolution
    cell = scale * upscale
    return max(1, round(height / cell)), max(1, round(width / cell))


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def load_model_meta(model_dir: str | Path) -> ModelMeta:
    """Read and validate ``<model_dir>/meta.json``; raises :class:`ModelError` naming the problem."""
    model_dir = Path(model_dir)
    path = model_dir / "meta.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(
            f"{path}: model metadata not found (train and export a model first)"
        ) from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from exc
    if raw.get("format") != META_FORMAT:
        raise ModelError(f"{path}: 'format' is {raw.get('format')!r}, expected {META_FORMAT!r}")
    try:
        channels, base_h, base_w = (int(v) for v in raw["latent_shape"])
        anchors = tuple(
            Anchor(
                id=str(a["id"]),
                latent=np.asarray(a["latent"], dtype=np.float32),
                stats=dict(a.get("stats", {})),
                tags=tuple(a.get("tags", ())),
                seed=a.get("seed"),
            )
            for a in raw["anchors"]
        )
        pca = np.asarray(raw.get("pca_axes", {}).get("basis", []), dtype=np.float32)
        meta = ModelMeta(
            model_dir=model_dir,
            latent_channels=channels,
            base_latent_hw=(base_h, base_w),
            scale=int(raw["scale"]),
            anchors=anchors,
            pca_axes=pca.reshape(-1, channels),
            artefacts=dict(raw["artefacts"]),
            generator_config=dict(raw.get("generator_config", {})),
            output_range=tuple(raw.get("output", {}).get("range", (-1.0, 1.0))),
            raw=raw,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: malformed field ({exc!r})") from exc
    if not anchors:
        raise ModelError(f"{path}: 'anchors' is empty; the controller needs at least one")
    for anchor in anchors:
        if anchor.latent.shape != (channels, base_h, base_w):
            raise ModelError(
                f"{path}: anchor {anchor.id!r} has shape {anchor.latent.shape}, "
                f"expected {(channels, base_h, base_w)}"
            )
    return meta


def verify_artefact(meta: ModelMeta, kind: str) -> Path:
    """Return the artefact's path after checking its sha256 against ``meta.json``."""
    path = meta.artefact_path(kind)
    if not path.is_file():
        raise ModelError(f"{path}: model file missing (listed in {meta.model_dir / 'meta.json'})")
    expected = meta.artefacts[kind].get("sha256")
    actual = sha256_file(path)
    if expected != actual:
        raise ModelError(
            f"{path}: sha256 {actual[:12]}… does not match meta.json ({str(expected)[:12]}…); "
            "the file was changed or corrupted; re-export the model"
        )
    return path
