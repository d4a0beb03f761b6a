"""Decoder: batching, provider choice, out-of-memory back-off, hash checks, backends, upscale."""

from __future__ import annotations

import logging
import shutil

import cv2
import numpy as np
import pytest

from renderer.decode import decoder as decoder_mod
from renderer.decode.backends import is_out_of_memory, onnx_backend, to_uint8
from renderer.decode.decoder import Decoder, open_decoder, upscale
from renderer.decode.model_meta import load_model_meta, sha256_file
from renderer.errors import ModelError, RenderError

GRID = (4, 6)  # latent (h, w): small, non-square


@pytest.fixture(scope="module")
def latents(tiny_model_dir) -> np.ndarray:
    # 9 frames: an odd remainder for every batch size tested.
    channels = load_model_meta(tiny_model_dir).latent_channels
    return np.random.default_rng(7).standard_normal((9, channels, *GRID), dtype=np.float32)


@pytest.fixture(scope="module")
def onnx_frames(tiny_model_dir, latents) -> np.ndarray:
    return open_decoder(tiny_model_dir, backend="onnx", provider="cpu", batch_size=4).decode(
        latents
    )


def test_decode_shape_dtype_and_provider(tiny_model_dir, latents, onnx_frames):
    dec = open_decoder(tiny_model_dir, backend="onnx", provider="cpu")
    assert dec.provider == "CPUExecutionProvider"
    assert onnx_frames.shape == (9, GRID[0] * dec.scale, GRID[1] * dec.scale, 3)
    assert onnx_frames.dtype == np.uint8
    assert onnx_frames.std() > 0  # not a constant image


def test_batch_1_and_7_give_the_same_frames(tiny_model_dir, latents, onnx_frames):
    one = open_decoder(tiny_model_dir, batch_size=1, provider="cpu").decode(latents)
    seven = open_decoder(tiny_model_dir, batch_size=7, provider="cpu").decode(latents)
    np.testing.assert_array_equal(one, seven)
    np.testing.assert_array_equal(one, onnx_frames)


def test_torch_fp32_matches_onnx(tiny_model_dir, latents, onnx_frames):
    dec = open_decoder(tiny_model_dir, backend="torch", precision="fp32", batch_size=5)
    assert dec.provider == "torch:cpu:fp32"
    diff = np.abs(dec.decode(latents).astype(int) - onnx_frames)
    assert diff.max() <= 1  # float rounding at .5 boundaries only


def test_torch_bf16_close_to_onnx(tiny_model_dir, latents, onnx_frames):
    dec = open_decoder(tiny_model_dir, backend="torch", precision="bf16", batch_size=3)
    diff = np.abs(dec.decode(latents).astype(int) - onnx_frames)
    assert diff.mean() < 2.0  # bf16 keeps ~3 significant digits; random weights are not tuned


def test_torch_backend_errors(tiny_model_dir, tmp_path):
    import json

    import torch
    from safetensors.torch import save_file

    with pytest.raises(RenderError, match="precision 'fp16' unknown"):
        open_decoder(tiny_model_dir, backend="torch", precision="fp16")
    if not torch.cuda.is_available():
        with pytest.raises(RenderError, match="no CUDA device"):
            open_decoder(tiny_model_dir, backend="torch", provider="cuda")
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    weights = load_model_meta(copy).artefact_path("safetensors")
    save_file({"unrelated": torch.zeros(2)}, str(weights))
    meta = json.loads((copy / "meta.json").read_text())
    meta["artefacts"]["safetensors"]["sha256"] = sha256_file(weights)
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="do not fit the generator config"):
        open_decoder(copy, backend="torch")


def test_auto_provider_falls_back_quietly_when_cuda_fails(
    tiny_model_dir, monkeypatch, caplog, capfd
):
    import onnxruntime as ort

    real_session = onnx_backend._session
    monkeypatch.setattr(
        ort, "get_available_providers", lambda: [onnx_backend.CUDA, onnx_backend.CPU]
    )

    def cuda_fails(path, providers, options, *, quiet):
        assert providers[0] == onnx_backend.CUDA and quiet  # asked for CUDA, with the log quiet
        return real_session(path, [onnx_backend.CPU], options, quiet=quiet)  # ORT's silent fallback

    monkeypatch.setattr(onnx_backend, "_session", cuda_fails)
    with caplog.at_level(logging.INFO, logger="renderer.decode.backends.onnx_backend"):
        dec = open_decoder(tiny_model_dir, provider="auto")
    assert dec.provider == "CPUExecutionProvider"
    assert "CUDA unusable" in caplog.text
    assert "[E:onnxruntime" not in capfd.readouterr().err
    with pytest.raises(RenderError, match="'cuda' requested"):
        open_decoder(tiny_model_dir, provider="cuda")


def test_real_auto_provider_is_reported(tiny_model_dir):
    import onnxruntime as ort

    dec = open_decoder(tiny_model_dir, provider="auto")
    assert dec.provider in ort.get_available_providers()
    assert dec.provider == dec.backend.session.get_providers()[0]


def test_unknown_provider_and_backend(tiny_model_dir):
    with pytest.raises(RenderError, match="provider"):
        open_decoder(tiny_model_dir, provider="tpu")
    with pytest.raises(ModelError, match="backend 'jax' unknown"):
        open_decoder(tiny_model_dir, backend="jax")


@pytest.mark.parametrize("kind,backend", [("onnx", "onnx"), ("safetensors", "torch")])
def test_hash_mismatch_raises_model_error(tiny_model_dir, tmp_path, kind, backend):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    artefact = load_model_meta(copy).artefact_path(kind)
    artefact.write_bytes(artefact.read_bytes() + b"\0")
    with pytest.raises(ModelError, match="does not match meta.json"):
        open_decoder(copy, backend=backend)


def test_corrupt_onnx_without_verify_is_a_model_error(tiny_model_dir, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny_model_dir, copy)
    load_model_meta(copy).artefact_path("onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        open_decoder(copy, verify=False)


class FakeBackend:
    """Maps each latent's first channel to a grey image; raises OOM above ``limit`` frames."""

    provider = "fake"

    def __init__(self, *, limit: int, message: str = "CUDA out of memory. Tried to allocate 2 GiB"):
        self.limit, self.message, self.calls = limit, message, []
        self.fixed_batch = None

    def run(self, latents: np.ndarray) -> np.ndarray:
        self.calls.append(len(latents))
        if len(latents) > self.limit:
            raise RuntimeError(self.message)
        value = np.clip(latents[:, 0, :, :] * 10 + 128, 0, 255).astype(np.uint8)
        return np.repeat(value[..., None], 3, axis=3)


def test_out_of_memory_halves_the_batch_and_goes_on(tiny_model_dir, latents, caplog):
    meta = load_model_meta(tiny_model_dir)
    reference = Decoder(FakeBackend(limit=99), meta=meta, batch_size=9).decode(latents)
    backend = FakeBackend(
        limit=2, message="[ONNXRuntimeError] Failed to allocate memory for BFCArena"
    )
    dec = Decoder(backend, meta=meta, batch_size=8)
    with caplog.at_level(logging.WARNING):
        out = dec.decode(latents)
    np.testing.assert_array_equal(out, reference)
    assert dec.batch_size == 2 and backend.calls[:3] == [8, 4, 2]
    assert max(backend.calls[3:]) <= 2
    assert "halved" in caplog.text


def test_out_of_memory_at_batch_one_is_an_error(tiny_model_dir, latents):
    dec = Decoder(FakeBackend(limit=0), meta=load_model_meta(tiny_model_dir), batch_size=2)
    with pytest.raises(RenderError, match="batch size 1"):
        dec.decode(latents)


def test_other_errors_propagate(tiny_model_dir, latents):
    dec = Decoder(FakeBackend(limit=0, message="bad input"), meta=load_model_meta(tiny_model_dir))
    with pytest.raises(RuntimeError, match="bad input"):
        dec.decode(latents)


def test_fixed_batch_models_are_padded(tiny_model_dir, latents):
    backend = FakeBackend(limit=99)
    backend.fixed_batch = 4
    dec = Decoder(backend, meta=load_model_meta(tiny_model_dir), batch_size=8)
    out = dec.decode(latents)
    assert dec.batch_size == 4 and backend.calls == [4, 4, 4]
    np.testing.assert_array_equal(
        out, Decoder(FakeBackend(limit=99), meta=dec.meta).decode(latents)
    )


def test_statically_shaped_model_names_the_grid(tiny_model_dir, latents):
    backend = FakeBackend(limit=99)
    backend.fixed_hw = (16, 16)
    with pytest.raises(ModelError, match=r"exported for latent grid \(16, 16\)"):
        Decoder(backend, meta=load_model_meta(tiny_model_dir)).decode(latents)


def test_latent_shape_checked_and_empty_input(tiny_model_dir):
    dec = Decoder(FakeBackend(limit=9), meta=load_model_meta(tiny_model_dir))
    channels = dec.meta.latent_channels
    with pytest.raises(ValueError, match=rf"\[B, {channels}, h, w\]"):
        dec.decode(np.zeros((2, channels + 1, 4, 4), np.float32))
    empty = dec.decode(np.zeros((0, channels, 2, 3), np.float32))
    assert empty.shape == (0, 2 * dec.scale, 3 * dec.scale, 3)
    with pytest.raises(RenderError, match="batch_size"):
        Decoder(FakeBackend(limit=9), meta=dec.meta, batch_size=0)


def test_is_out_of_memory():
    class OutOfMemoryError(RuntimeError):  # torch.cuda.OutOfMemoryError's name
        pass

    assert is_out_of_memory(OutOfMemoryError("x"))
    assert is_out_of_memory(MemoryError())
    assert is_out_of_memory(RuntimeError("CUDA failure 2: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_to_uint8_maps_tanh_range():
    images = np.array([-1.0, -0.5, 0.0, 1.0, 1.5], np.float32).reshape(1, 1, 1, 5)
    images = np.repeat(images, 3, axis=1)
    out = to_uint8(images)
    assert out.shape == (1, 1, 5, 3)
    assert out[0, 0, :, 0].tolist() == [0, 64, 128, 255, 255]


def test_upscale_matches_opencv_and_validates():
    frames = np.random.default_rng(0).integers(0, 256, (3, 17, 30, 3), dtype=np.uint8)
    out = upscale(frames, size=(64, 36))
    assert out.shape == (3, 36, 64, 3)
    expected = cv2.resize(frames[1], (64, 36), interpolation=cv2.INTER_CUBIC)
    np.testing.assert_array_equal(out[1], expected)
    assert upscale(frames, size=(30, 17)) is frames
    linear = upscale(frames, size=(64, 36), method="linear", out=np.empty_like(out))
    assert linear.shape == out.shape
    with pytest.raises(ValueError, match="method"):
        upscale(frames, size=(64, 36), method="magic")
    with pytest.raises(ValueError, match="uint8"):
        upscale(frames.astype(np.float32), size=(64, 36))


def test_cuda_load_error_says_why_the_provider_cannot_load(tmp_path, monkeypatch):
    """Without the provider library the reason says so; with a broken one, the loader's error."""
    import onnxruntime as ort

    fake = tmp_path / "onnxruntime"
    (fake / "capi").mkdir(parents=True)
    monkeypatch.setattr(ort, "__file__", str(fake / "__init__.py"))
    assert onnx_backend.cuda_load_error() == (
        "libonnxruntime_providers_cuda.so is not part of this onnxruntime build"
    )
    (fake / "capi" / "libonnxruntime_providers_cuda.so").write_bytes(b"not a shared object")
    reason = onnx_backend.cuda_load_error()
    assert "libonnxruntime_providers_cuda.so" in reason and "not part of" not in reason


def test_backend_registry_names():
    assert set(decoder_mod.BACKENDS) == {"onnx", "torch", "cppn"}  # cppn: test_cppn_backend.py


GOLDEN_MODEL = "af1461c851c1f893"  # sha256 prefix of models/generator.fp32.onnx the slice is for
# (the slice decodes anchor 0, so a re-export that picks other anchors changes it too)
GOLDEN_PIXELS = [[158, 78, 33], [153, 76, 40], [161, 90, 30], [101, 79, 26],
                 [175, 125, 39], [136, 70, 25], [113, 77, 19], [136, 82, 25]]  # fmt: skip


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_committed_model_golden_slice(repo_root, backend):
    """Anchor 0 of the committed model decoded on both backends: expected pixels (every 64th,
    first 8). A new model changes its hash: re-derive the slice in the same commit."""
    kw = {"provider": "cpu"} if backend == "onnx" else {"precision": "fp32"}
    dec = open_decoder(repo_root / "models", backend=backend, batch_size=1, **kw)
    assert dec.meta.artefacts["onnx"]["sha256"].startswith(GOLDEN_MODEL), "new model: new slice"
    frame = dec.decode(dec.meta.anchors[0].latent[None].astype(np.float32))[0]
    assert frame.shape == (256, 256, 3)
    got = frame[::64, ::64].reshape(-1, 3)[:8].astype(int)
    assert np.abs(got - np.array(GOLDEN_PIXELS)).max() <= 1


class FakeDeviceBackend(FakeBackend):
    """``FakeBackend`` that also returns tensors (``run_tensor``), like the torch backend."""

    on_cuda = True
    device = None

    def run_tensor(self, latents: np.ndarray):
        import torch

        return torch.from_numpy(self.run(latents))


def test_decode_tensor_batches_and_backs_off_like_decode(tiny_model_dir, latents):
    meta = load_model_meta(tiny_model_dir)
    reference = Decoder(FakeBackend(limit=99), meta=meta, batch_size=9).decode(latents)
    backend = FakeDeviceBackend(limit=2)
    dec = Decoder(backend, meta=meta, batch_size=8)
    assert dec.keeps_frames_on_device
    np.testing.assert_array_equal(dec.decode_tensor(latents).numpy(), reference)
    assert dec.batch_size == 2 and backend.calls[:3] == [8, 4, 2]
    assert not Decoder(FakeBackend(limit=9), meta=meta).keeps_frames_on_device
    with pytest.raises(RenderError, match="cannot keep frames on a device"):
        Decoder(FakeBackend(limit=9), meta=meta).decode_tensor(latents)
