"""Export artefacts: ONNX parity and dynamic shapes, safetensors, meta.json, hash verification."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from conftest import untraced
from PIL import Image
from safetensors.torch import load_file

from renderer.decode.generator import build_generator
from renderer.decode.model_meta import load_model_meta, verify_artefact
from renderer.errors import ModelError
from training.export_onnx import (
    PARITY_ATOL,
    canvas_detail,
    choose_anchors,
    image_stats,
    main,
    tags_for,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_generator(tiny_model_dir):
    meta = load_model_meta(tiny_model_dir)
    generator = build_generator(meta.generator_config).eval()
    generator.load_state_dict(load_file(str(verify_artefact(meta, "safetensors"))))
    return generator


def test_meta_loads_and_verifies(tiny_model_dir: Path) -> None:
    meta = load_model_meta(tiny_model_dir)
    assert meta.latent_channels == 8 and meta.base_latent_hw == (16, 16) and meta.scale == 16
    assert len(meta.anchors) == 6
    assert meta.pca_axes.shape[1] == 8 and 1 <= meta.pca_axes.shape[0] <= 8
    np.testing.assert_allclose(
        meta.pca_axes @ meta.pca_axes.T, np.eye(len(meta.pca_axes)), atol=1e-3
    )
    variance = meta.raw["pca_axes"]["explained_variance"]
    assert variance == sorted(variance, reverse=True) and sum(variance) == pytest.approx(
        1, abs=1e-3
    )
    for anchor in meta.anchors:
        assert set(anchor.stats) >= {"luma", "saturation", "warmth", "hue_deg", "contrast",
                                     "texture", "colourfulness", "mean_rgb"}  # fmt: skip
        assert len(anchor.tags) == 4
    assert verify_artefact(meta, "onnx").name == "generator.fp32.onnx"
    assert meta.raw["training"] == {"tiny": True}


def test_onnx_parity_and_dynamic_shapes(tiny_model_dir: Path, tiny_generator) -> None:
    session = ort.InferenceSession(
        str(tiny_model_dir / "generator.fp32.onnx"), providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(0)
    for shape in ((1, 8, 17, 30), (4, 8, 3, 5), (2, 8, 16, 16)):
        z = rng.standard_normal(shape).astype(np.float32)
        got = session.run(None, {"z": z})[0]
        with torch.no_grad():
            ref = tiny_generator(torch.from_numpy(z)).numpy()
        assert got.shape == (shape[0], 3, 16 * shape[2], 16 * shape[3])
        assert np.abs(got - ref).max() < PARITY_ATOL


def test_hash_mismatch_detected(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    with open(copy / "generator.safetensors", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError, match="does not match"):
        verify_artefact(load_model_meta(copy), "safetensors")


def test_anchors_cover_range(tiny_generator) -> None:
    anchors = choose_anchors(tiny_generator, count=4, candidates=12, seed=3)
    assert len({a["seed"] for a in anchors}) == 4
    assert choose_anchors(tiny_generator, count=4, candidates=12, seed=3) == anchors
    # farthest-point sampling spreads the picks: their luma range is a good part of the candidates'
    lumas = [a["stats"]["luma"] for a in anchors]
    assert max(lumas) > min(lumas)


def test_anchors_come_from_the_detailed_half(tiny_generator) -> None:
    every = choose_anchors(tiny_generator, count=12, candidates=12, seed=3, detail_quantile=0)
    details = sorted((a["stats"]["detail"] for a in every), reverse=True)
    assert details[0] > details[-1]
    chosen = choose_anchors(tiny_generator, count=4, candidates=12, seed=3, detail_quantile=0.5)
    assert all(a["stats"]["detail"] >= details[5] for a in chosen)
    # at least ``count`` stay eligible whatever the quantile
    assert len(choose_anchors(tiny_generator, count=4, candidates=12, detail_quantile=0.9)) == 4


def test_canvas_detail_tells_flat_from_busy() -> None:
    flat = np.full((1, 16, 16, 3), 0.5)
    checker = np.indices((16, 16)).sum(axis=0) % 2
    busy = np.repeat(checker[None, ..., None], 3, axis=3).astype(float)
    got = canvas_detail(np.concatenate([flat, busy]))
    assert got[0] == 0 and got[1] > 400


def test_image_stats_and_tags() -> None:
    red = np.zeros((8, 8, 3))
    red[..., 0] = 1
    grey = np.full((8, 8, 3), 0.5)
    s_red, s_grey = image_stats(red), image_stats(grey)
    assert s_red["saturation"] > 0.9 and s_grey["saturation"] == 0
    assert s_red["warmth"] == 1 and s_grey["texture"] == 0
    assert s_red["hue_deg"] < 60 or s_red["hue_deg"] > 300
    medians = {k: s_grey[k] for k in ("warmth", "luma", "saturation", "texture")}
    assert tags_for(s_red, medians)[:1] == ["warm"]
    assert "muted" in tags_for(s_grey, medians)


def test_cli_exports_a_checkpoint_with_the_new_generator_options(
    tmp_path: Path, monkeypatch
) -> None:
    """The CLI from a Lightning checkpoint to a model folder; the generator uses cpu2's options
    (bilinear upsampling, a ResBlock at the latent grid), which export with parity. torch's own
    export runs untraced by coverage (:func:`conftest.untraced`)."""
    monkeypatch.setattr(torch.onnx, "export", untraced(torch.onnx.export))
    torch.manual_seed(0)
    config = {"channels": [16, 8, 8, 8, 8], "groups": 4, "upsample": "bilinear", "stem_blocks": 1,
              "detail_gain": 0.5}  # fmt: skip
    generator = build_generator(config).eval()
    ckpt_dir = tmp_path / "run" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    state = {f"G_ema.{k}": v for k, v in generator.state_dict().items()}
    state["iteration"] = torch.tensor(7)
    torch.save({"state_dict": state}, ckpt_dir / "last.ckpt")
    (tmp_path / "run" / "config.json").write_text(
        json.dumps({"generator": generator.config.to_dict(), "crop": 64})
    )
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file\n")
    out = tmp_path / "models"
    table = tmp_path / "swd_table.json"
    table.write_text(json.dumps({"64px": {"trained_g": {"swd_mean": 1.0}}}))
    args = ["--checkpoint", str(ckpt_dir / "last.ckpt"), "--out", str(out), "--anchors", "3",
            "--candidates", "6", "--manifest", str(manifest), "--validation", str(table)]  # fmt: skip
    assert main(args) == 0
    meta = load_model_meta(out)
    assert meta.raw["training"]["iterations"] == 7 and len(meta.anchors) == 3
    assert meta.raw["training"]["validation"]["64px"]["trained_g"]["swd_mean"] == 1.0
    assert meta.raw["dataset_manifest_sha256"] is not None
    assert (
        meta.generator_config["upsample"] == "bilinear"
        and meta.generator_config["stem_blocks"] == 1
        and meta.generator_config["detail_gain"] == 0.5
    )
    assert (out / "samples.png").is_file() and (out / "interpolation.png").is_file()
    assert Image.open(out / "canvas_16x9.png").size[0] > Image.open(out / "canvas_16x9.png").size[1]
    session = ort.InferenceSession(
        str(out / "generator.fp32.onnx"), providers=["CPUExecutionProvider"]
    )
    z = np.random.default_rng(1).standard_normal((1, 8, 3, 5)).astype(np.float32)
    got = session.run(None, {"z": z})[0]
    with torch.no_grad():
        ref = generator(torch.from_numpy(z)).numpy()
    assert got.shape == (1, 3, 48, 80) and np.abs(got - ref).max() < PARITY_ATOL


class Marker:
    """Unpickling this writes a file: what a crafted checkpoint could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (self.path, "pwned"))


def test_cli_refuses_a_crafted_checkpoint(tmp_path: Path, capsys) -> None:
    marker = tmp_path / "marker"
    ckpt = tmp_path / "run" / "checkpoints" / "crafted.ckpt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"state_dict": {"iteration": torch.tensor(1)}, "x": Marker(marker)}, ckpt)
    out = tmp_path / "models"
    assert main(["--checkpoint", str(ckpt), "--out", str(out)]) == 2
    assert "crafted.ckpt" in capsys.readouterr().err  # named, without a traceback
    assert not marker.exists() and not out.exists()
