"""meta.json parsing, latent grids and artefact hash verification."""

from __future__ import annotations

import json

import numpy as np
import pytest

from renderer.decode.model_meta import (
    META_FORMAT,
    latent_grid,
    load_model_meta,
    sha256_file,
    verify_artefact,
)
from renderer.errors import ModelError


def _write_meta(tmp_path, **changes):
    rng = np.random.default_rng(0)
    (tmp_path / "generator.fp32.onnx").write_bytes(b"onnx-bytes")
    meta = {
        "format": META_FORMAT,
        "version": "1",
        "latent_shape": [2, 3, 3],
        "scale": 16,
        "output": {"range": [-1, 1]},
        "artefacts": {
            "onnx": {
                "path": "generator.fp32.onnx",
                "sha256": sha256_file(tmp_path / "generator.fp32.onnx"),
            },
            "safetensors": {"path": "missing.safetensors", "sha256": "0" * 64},
            "evil": {"path": "../outside.onnx", "sha256": "0" * 64},
        },
        "anchors": [
            {"id": f"a{i}", "latent": rng.normal(size=(2, 3, 3)).tolist(), "tags": ["warm"]}
            for i in range(2)
        ],
        "pca_axes": {"basis": [[1.0, 0.0], [0.0, 1.0]]},
    }
    meta.update(changes)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    return meta


def test_load_parses_anchors_and_axes(tmp_path):
    _write_meta(tmp_path)
    meta = load_model_meta(tmp_path)
    assert meta.latent_channels == 2 and meta.base_latent_hw == (3, 3)
    assert len(meta.anchors) == 2 and meta.anchors[0].latent.dtype == np.float32
    assert meta.anchors[0].tags == ("warm",)
    assert meta.pca_axes.shape == (2, 2)
    assert verify_artefact(meta, "onnx").name == "generator.fp32.onnx"


def test_hash_mismatch_missing_file_and_escape_are_errors(tmp_path):
    _write_meta(tmp_path)
    meta = load_model_meta(tmp_path)
    (tmp_path / "generator.fp32.onnx").write_bytes(b"tampered")
    with pytest.raises(ModelError, match="does not match meta.json"):
        verify_artefact(meta, "onnx")
    with pytest.raises(ModelError, match="model file missing"):
        verify_artefact(meta, "safetensors")
    with pytest.raises(ModelError, match="leaves"):
        verify_artefact(meta, "evil")
    with pytest.raises(ModelError, match="no 'torchscript' artefact"):
        verify_artefact(meta, "torchscript")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "other"}, "'format'"),
        ({"anchors": []}, "'anchors' is empty"),
        ({"anchors": [{"id": "x", "latent": [[0.0]]}]}, "has shape"),
        ({"latent_shape": None}, "malformed field"),
    ],
)
def test_invalid_meta_is_reported(tmp_path, changes, message):
    _write_meta(tmp_path, **changes)
    with pytest.raises(ModelError, match=message):
        load_model_meta(tmp_path)


def test_missing_and_corrupt_meta(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_model_meta(tmp_path)
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_model_meta(tmp_path)


@pytest.mark.parametrize(
    ("resolution", "grid"),
    [((1920, 1080), (17, 30)), ((1280, 720), (11, 20)), ((256, 256), (4, 4)), ((32, 32), (1, 1))],
)
def test_latent_grid(resolution, grid):
    assert latent_grid(resolution) == grid
