"""The learned ×4 upscaler (issue 9): the fast inference path against the plain network, its
place in the post-fx chain, the model folder's hash check, and the training script end to end
(with resume) on tiny images."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import torch
from conftest import add_tiny_upscaler
from render_fixtures import make_album, read_meta

from renderer.config.models import PostFXConfig
from renderer.decode.model_meta import load_model_meta
from renderer.decode.upscaler import FastUpscaler, build_net, upscaler_spec
from renderer.errors import ModelError
from renderer.fx.postfx import PostFX
from renderer.render_track import main as track_main
from training.train_upscaler import main as train_main


def frames(n: int = 2, size: tuple[int, int] = (40, 24), seed: int = 0) -> np.ndarray:
    """Smooth colour fields with hard-edged blocks: uint8 ``[n, H, W, 3]``."""
    rng = np.random.default_rng(seed)
    out = rng.integers(0, 255, (n, size[1] // 8, size[0] // 8, 3)).astype(np.uint8)
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_NEAREST) for f in out])


def plain(net, frame: np.ndarray) -> np.ndarray:
    """The network as trained: edge-padded 0-1 input, rounded 8-bit output."""
    p = net.pad
    x = cv2.copyMakeBorder(frame, p, p, p, p, cv2.BORDER_REPLICATE).astype(np.float32) / 255
    with torch.no_grad():
        y = net(torch.from_numpy(x).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    return np.clip(np.floor(y * 255 + 0.5), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    net = build_net(8, 2)
    with torch.no_grad():
        net.body[-1].weight.normal_(0.0, 0.2)
        net.body[-1].bias.normal_(0.0, 0.05)
    return net.eval()


def test_an_untrained_network_is_a_nearest_neighbour_enlargement():
    frame = frames(1)[0]
    out = FastUpscaler(build_net(4, 1)).frame(frame)
    assert out.shape == (96, 160, 3)
    assert np.array_equal(out, np.repeat(np.repeat(frame, 4, axis=0), 4, axis=1))


def test_the_fast_path_equals_the_plain_network(net):
    """Folded scales, reordered channels and the strided pixel shuffle change nothing but float
    rounding (measured: ≤ 1 level in a handful of pixels)."""
    fast = FastUpscaler(net)
    clip = frames(3)
    batch = fast(torch.from_numpy(clip)).numpy()
    for frame, out in zip(clip, batch, strict=True):
        ref = plain(net, frame)
        diff = np.abs(out.astype(int) - ref)
        assert out.shape == ref.shape and diff.max() <= 1 and (diff > 0).mean() < 1e-3
        assert np.array_equal(fast.frame(frame), out)  # one frame = the batch row
    assert np.abs(batch.astype(int) - np.repeat(np.repeat(clip, 4, 1), 4, 2)).mean() > 1


def test_postfx_enlarges_with_the_model_upscaler(upscaler_model_dir):
    spec = upscaler_spec(load_model_meta(upscaler_model_dir))
    clip = frames(2, (100, 60))
    plain_fx = dict(vignette=0.0, grain_intensity=0.0, chroma_shift=0.0, tone_curve="none")

    def run(out_size, **settings):
        fx = PostFX(PostFXConfig(**{**plain_fx, **settings}), size=(100, 60), seed=0,
                    track_id="t", output_size=out_size, upscaler=spec)  # fmt: skip
        return fx.apply(clip.copy(), frame_indices=np.arange(2))

    learned = run((400, 240))
    ref = np.stack([spec.runner().frame(f) for f in clip])
    assert np.abs(learned.astype(int) - ref).max() <= 1  # the colour steps may round once
    bicubic = run((400, 240), upscale="bicubic")
    assert bicubic.shape == learned.shape and np.abs(bicubic.astype(int) - learned).mean() > 1
    # 4× frames a row larger than the output are centre-cropped, others resized
    assert np.array_equal(run((400, 238)), learned[:, 1:239])
    assert run((420, 250)).shape == (2, 250, 420, 3)
    shifted = run((400, 240), chroma_shift=0.02)
    assert shifted.shape == learned.shape
    assert np.array_equal(shifted[..., 1], learned[..., 1])  # green is not zoomed
    assert not np.array_equal(shifted[..., 0], learned[..., 0])


def test_the_upscaler_is_hash_checked(tmp_path, upscaler_model_dir):
    copy = tmp_path / "models"
    shutil.copytree(upscaler_model_dir, copy)
    meta = load_model_meta(copy)
    assert upscaler_spec(meta).weights == (copy / "upscaler.safetensors").resolve()
    (copy / "upscaler.safetensors").write_bytes(b"not weights")
    with pytest.raises(ModelError, match="upscaler.safetensors"):
        upscaler_spec(load_model_meta(copy))
    raw = json.loads((copy / "meta.json").read_text())
    del raw["artefacts"]["upscaler"]["width"]
    (copy / "meta.json").write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="meta.json.*width"):
        upscaler_spec(load_model_meta(copy))


def test_a_render_uses_the_upscaler_and_bicubic_on_request(tmp_path, upscaler_model_dir):
    """Real track renders: the learned one repeats exactly, ``upscale: bicubic`` differs."""
    from renderer.fx.quality import encoded_frames

    hashes, pictures = {}, {}
    for name, extra in [
        ("learned", ""),
        ("again", ""),
        ("bicubic", "postfx: {upscale: bicubic}\n"),
    ]:
        config = make_album(tmp_path / name, upscaler_model_dir, seconds=1.0, extra=extra)
        text = config.read_text().replace("postfx: {persistence: 0.5, grain_intensity: 0.1}\n", "")
        config.write_text(text)
        assert track_main(["--config", str(config), "--track", "t0"]) == 0
        (track,) = read_meta(config)["tracks"]
        assert track["ok"]
        hashes[name] = [h for chunk in track["chunks"] for h in chunk["frame_hashes"]]
        pictures[name] = encoded_frames(track["output"])[0]
    assert hashes["learned"] == hashes["again"]
    assert hashes["learned"] != hashes["bicubic"]
    assert pictures["learned"].shape == pictures["bicubic"].shape == (72, 128, 3)


def test_training_writes_the_weights_and_resumes_exactly(tmp_path, tiny_model_dir):
    """Tiny images (64², patches of 8): 12 steps in one go equal a stop after 6 and a
    ``--resume``; the model folder lists the hash-checked weights with holdout scores."""
    runs = {}
    for name, legs in [("straight", [[]]), ("resumed", [["--stop-after", "6"], ["--resume"]])]:
        models = tmp_path / name / "models"
        shutil.copytree(tiny_model_dir, models)
        common = ["--models", str(models), "--data", str(tmp_path / "images"),
                  "--out", str(tmp_path / name / "out"), "--images", "6", "--size", "64",
                  "--patch", "8", "--batch", "4", "--width", "4", "--depth", "1",
                  "--threads", "1", "--checkpoint-every", "4", "--steps", "12"]  # fmt: skip
        for leg in legs:
            assert train_main([*common, *leg]) == 0
            if leg[:1] == ["--stop-after"]:  # stopped: checkpointed, nothing installed yet
                assert "upscaler" not in load_model_meta(models).artefacts
        runs[name] = models
    meta = {name: load_model_meta(m) for name, m in runs.items()}
    entry = meta["straight"].artefacts["upscaler"]
    assert entry["training"]["steps"] == 12
    assert set(entry["training"]["holdout"]) == {"learned", "bicubic", "native"}
    assert entry["sha256"] == meta["resumed"].artefacts["upscaler"]["sha256"]
    spec = upscaler_spec(meta["straight"])
    assert spec.width == 4 and spec.depth == 1
    # the generator's artefacts are untouched
    assert meta["straight"].artefacts["onnx"] == load_model_meta(tiny_model_dir).artefacts["onnx"]


def test_a_generator_export_keeps_the_upscaler(tmp_path, tiny_model_dir):
    from conftest import export_tiny_model

    models = tmp_path / "models"
    shutil.copytree(tiny_model_dir, models)
    add_tiny_upscaler(models)
    before = load_model_meta(models).artefacts["upscaler"]
    export_tiny_model(models)
    assert load_model_meta(models).artefacts["upscaler"] == before
    (models / "upscaler.safetensors").unlink()
    export_tiny_model(models)
    assert "upscaler" not in load_model_meta(models).artefacts
