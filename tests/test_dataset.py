"""training/make_dataset.py (small runs, resume, verify) and training/dataset.py."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training import make_dataset as md
from training.dataset import ImageFolderDataset, load_images, manifest_files
from training.procedural import MODEL_ID, generate


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("data")
    assert (
        md.main(
            ["--count", "10", "--size", "64", "--data-dir", str(data), "--sample", "5", "--quiet"]
        )
        == 0
    )
    return data


def test_small_run_writes_the_documented_files(small_set: Path) -> None:
    rows = md.read_manifest(small_set / "manifest.csv")
    assert len(rows) == 10 and list(rows[0]) == list(md.FIELDS)
    assert {r["bucket"] for r in rows} == {
        "abstract",
        "glitch",
        "colour-field",
        "reaction-diffusion",
        "monochrome-noise",
    }
    for row in rows:
        path = small_set / "full" / row["file"]
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        with Image.open(path) as im:
            assert im.size == (64, 64) and im.mode == "RGB" and not im.info.get("pnginfo")
            pixels = np.asarray(im)
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == row["pixels_sha256"]
        # Same seed → same PNG bytes.
        assert md.png_bytes(generate(row["bucket"], int(row["seed"]), size=64)) == data
        meta = json.loads(path.with_suffix(".json").read_text())
        assert meta["model"] == MODEL_ID == row["model"] and meta["seed"] == int(row["seed"])
        assert {"prompt", "negative_prompt", "steps", "cfg", "generator"} <= set(meta)
    assert (small_set / "full" / "DONE").read_text().strip() == "10"
    sample = sorted(p.name for p in (small_set / "sample").glob("*.png"))
    assert len(sample) == 5 and len({n.split("-", 1)[1] for n in sample}) == 5  # one per bucket
    with Image.open(small_set / "contact_sheet.png") as sheet:
        assert sheet.size[0] > 0


def test_resume_skips_current_files_and_replaces_bad_ones(small_set: Path, capsys) -> None:
    rows = md.read_manifest(small_set / "manifest.csv")
    victim = small_set / "full" / rows[3]["file"]
    good = victim.read_bytes()
    victim.write_bytes(b"not a png")
    assert (
        md.main(["--count", "10", "--size", "64", "--data-dir", str(small_set), "--sample", "5"])
        == 0
    )
    assert "(1 new)" in capsys.readouterr().out
    assert victim.read_bytes() == good
    assert md.read_manifest(small_set / "manifest.csv") == rows


def test_verify_detects_tampering(small_set: Path, capsys) -> None:
    assert md.main(["--data-dir", str(small_set), "--verify"]) == 0
    rows = md.read_manifest(small_set / "manifest.csv")
    copy = small_set / "copy"
    copy.mkdir(exist_ok=True)
    for row in rows:
        (copy / row["file"]).write_bytes((small_set / "full" / row["file"]).read_bytes())
    # Re-encoding at another zlib level changes the bytes, not the pixels: still valid.
    with Image.open(copy / rows[0]["file"]) as im:
        im.save(copy / rows[0]["file"], compress_level=1)
    assert md.verify(copy, small_set / "manifest.csv") == []
    with Image.open(copy / rows[1]["file"]) as im:
        pixels = np.asarray(im).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(copy / rows[1]["file"])
    (copy / rows[2]["file"]).unlink()
    problems = md.verify(copy, small_set / "manifest.csv")
    assert len(problems) == 2
    assert any("pixels differ" in p and rows[1]["file"] in p for p in problems)
    assert any("missing" in p and rows[2]["file"] in p for p in problems)
    assert md.main(["--data-dir", str(small_set), "--verify", str(copy)]) == 1
    assert "FAILED" in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match="manifest"):
        md.verify(copy, copy / "nope.csv")
    with pytest.raises(SystemExit):
        md.main(["--count", "0"])


def test_stratified_sample_is_balanced() -> None:
    rows = [
        {"file": f"{i}", "bucket": b} for i in range(20) for b in ("glitch", "abstract", "other")
    ]
    picked = md.stratified(rows, 7)
    assert len(picked) == 7
    assert [r["bucket"] for r in picked][:3] == ["abstract"] * 3  # bucket order follows BUCKETS


def test_dataset_tensors_and_seeding(small_set: Path) -> None:
    full, manifest = small_set / "full", small_set / "manifest.csv"
    images = load_images(full, manifest=manifest)
    assert images.shape == (10, 64, 64, 3) and images.dtype == np.uint8
    assert manifest_files(manifest)[0] == "00000-abstract.png"
    assert len(load_images(full, limit=3)) == 3  # without a manifest: sorted PNGs
    ds = ImageFolderDataset(full, manifest=manifest, size=64, crop=32, seed=7)
    x = ds[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    again = ImageFolderDataset(full, manifest=manifest, size=64, crop=32, seed=7)
    assert torch.equal(again[0], x)  # same seed, same first view
    assert not torch.equal(ds[0], x)  # a second visit gives a new view
    ds.set_epoch(0)
    assert torch.equal(ds[0], x)  # set_epoch makes views a function of (seed, epoch, index)
    ds.set_epoch(1)
    assert not torch.equal(ds[0], x)
    other_seed = ImageFolderDataset(full, images=images, size=64, crop=32, seed=8)
    assert not torch.equal(other_seed[0], x)


def test_dataset_without_augmentation_and_resizing(small_set: Path) -> None:
    full = small_set / "full"
    images = load_images(full)
    plain = ImageFolderDataset(full, images=images, size=64, augment=False)
    expected = torch.from_numpy(images[2]).permute(2, 0, 1).float() / 127.5 - 1.0
    assert torch.equal(plain[2], expected) and len(plain) == 10
    centre = ImageFolderDataset(full, images=images, size=32, crop=16, augment=False)
    assert centre[0].shape == (3, 16, 16)
    full_aug = ImageFolderDataset(full, images=images, size=48)
    assert full_aug[1].shape == (3, 48, 48)
    loader = torch.utils.data.DataLoader(full_aug, batch_size=4)
    assert next(iter(loader)).shape == (4, 3, 48, 48)


def test_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make_dataset"):
        load_images(tmp_path)
    with pytest.raises(ValueError, match="crop"):
        ImageFolderDataset(tmp_path, images=np.zeros((1, 8, 8, 3), np.uint8), size=8, crop=16)
    with pytest.raises(ValueError, match="images"):
        ImageFolderDataset(tmp_path, images=np.zeros((1, 8, 8), np.uint8), size=8)
    bad = tmp_path / "m.csv"
    bad.write_text("name\nx.png\n")
    with pytest.raises(FileNotFoundError, match="m.csv"):
        manifest_files(bad)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match="differ in size"):
        load_images(tmp_path)
    with open(tmp_path / "ok.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["file"], ["a.png"], ["gone.png"]])
    assert len(load_images(tmp_path, manifest=tmp_path / "ok.csv")) == 1
