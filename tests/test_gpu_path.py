"""The CUDA path (issue 13) with only the CUDA device mocked: there is no GPU here, so
``torch.cuda.is_available`` and the device's memory figures are patched and the seam
``torch_backend.cuda_device`` resolves "cuda" to the CPU device; everything else (the torch
decoder, the device post-fx chain, batch tuning, the real FFmpeg) runs for real. On a GPU,
``benchmarks/gpu.sh`` runs the same code on the real device."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from render_fixtures import make_album, read_meta

from renderer.config.models import PostFXConfig
from renderer.decode import device_pipeline
from renderer.decode.backends import torch_backend
from renderer.decode.decoder import open_decoder
from renderer.encode import profiles
from renderer.encode.ffmpeg_bin import encoder_opens, ffmpeg_encoders, find_ffmpeg
from renderer.encode.frame_writer import FrameWriter
from renderer.errors import FFmpegError, RenderError
from renderer.fx.autograde import COLOUR_PIXELS, SAMPLE_PIXELS
from renderer.fx.device_fx import DEVICE_EFFECTS, DevicePostFX
from renderer.fx.postfx import ORDER, PostFX, average_subframes
from renderer.render_track import main as track_main

MiB = 2**20
SIZE, OUT = (160, 90), (320, 180)


def mock_cuda(monkeypatch, *, free: int = 8 * 1024 * MiB, per_frame: int = 64 * MiB) -> None:
    """A "CUDA device" that is the CPU device, with ``free`` bytes free and ``per_frame`` bytes
    as the peak of any measured run."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch_backend, "cuda_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (free, 2 * free))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 0)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 0)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: per_frame)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    """12 smooth, saturated, moving frames ``[12, 90, 160, 3]``."""
    y, x = np.mgrid[0 : SIZE[1], 0 : SIZE[0]].astype(np.float32)
    frames = [np.stack([128 + 120 * np.sin(x / 9 + t / 3), 118 + 100 * np.cos(y / 7 - t / 5),
                        128 + 90 * np.sin((x + y) / 11 + t / 4)], axis=-1) for t in range(12)]  # fmt: skip
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def preset_postfx() -> dict[str, dict]:
    from pathlib import Path

    import renderer.presets

    folder = Path(renderer.presets.__file__).parent
    out = {p.stem: yaml.safe_load(p.read_text()).get("postfx", {}) for p in folder.glob("*.yaml")}
    out["everything"] = dict(lut="teal_orange", persistence=0.7, sharpen=0.8, saturation=1.4,
                             chroma_shift=0.01)  # fmt: skip
    out["held"] = dict(auto_exposure=1.0, luma_range=[60, 180], min_contrast=40,
                       saturation_range=[0.4, 0.5], vignette=0.4)  # fmt: skip
    return out


def both(settings: PostFXConfig, clip: np.ndarray, *, out=OUT, batch: int = 4, upscaler=None):
    signals = {"pulse": np.linspace(0, 1, len(clip)), "scene_cut": np.eye(len(clip))[5]}
    kw = dict(size=SIZE, seed=3, track_id="t", output_size=out, upscaler=upscaler)
    cpu = PostFX(settings, **kw).apply(clip.copy(), frame_indices=np.arange(len(clip)),
                                       signals=signals)  # fmt: skip
    dev = DevicePostFX(settings, device="cpu", **kw)
    parts = [dev.apply(torch.from_numpy(clip[i : i + batch].copy()),
                       frame_indices=np.arange(i, i + batch),
                       signals={k: v[i : i + batch] for k, v in signals.items()})
             for i in range(0, len(clip), batch)]  # fmt: skip
    return cpu, torch.cat(parts).numpy(), dev


def test_every_effect_has_a_device_version():
    assert set(DEVICE_EFFECTS) == set(ORDER)


@pytest.mark.parametrize("name", sorted(preset_postfx()))
def test_device_chain_matches_the_cpu_chain(clip, name):
    """Same effects; exact where OpenCV's steps are integer (tables, LUT, grain); within the
    stated tolerance where OpenCV works in fixed point (bicubic, blur, gamut remap): ≤ 4 levels
    anywhere, ≥ 98.5 % of values equal, mean difference < 0.03 levels (measured: ≤ 4, ≥ 98.9 %,
    ≤ 0.015 — the worst with sharpening, which amplifies a one-level difference)."""
    settings = PostFXConfig(**preset_postfx()[name])
    cpu, dev, chain = both(settings, clip)
    assert (
        chain.effects == PostFX(settings, size=SIZE, seed=3, track_id="t", output_size=OUT).effects
    )
    diff = np.abs(cpu.astype(int) - dev)
    assert diff.max() <= 4 and (diff == 0).mean() >= 0.985 and diff.mean() < 0.03, name


@pytest.mark.parametrize("name", ["default", "everything"])
def test_the_learned_upscaler_runs_alike_on_the_device(clip, upscaler_model_dir, name):
    """The same network on both paths; with the chroma shift the zoomed planes are resized by
    OpenCV on one and torch on the other, and sharpening amplifies the network's one-level
    float differences (measured: default ≤ 3 levels, 99.4 % equal, mean 0.006; everything ≤ 5,
    95.6 %, 0.048)."""
    from renderer.decode.model_meta import load_model_meta
    from renderer.decode.upscaler import upscaler_spec

    spec = upscaler_spec(load_model_meta(upscaler_model_dir))
    settings = PostFXConfig(**preset_postfx()[name])
    cpu, dev, _ = both(settings, clip, out=(640, 360), upscaler=spec)
    _, bicubic, _ = both(settings, clip, out=(640, 360))
    diff = np.abs(cpu.astype(int) - dev)
    assert cpu.shape == (12, 360, 640, 3)
    assert diff.max() <= 6 and (diff == 0).mean() >= 0.95 and diff.mean() < 0.06, name
    assert np.abs(bicubic.astype(int) - dev).mean() > 1


def test_integer_effects_are_exact_on_the_device(clip):
    settings = PostFXConfig(tone_curve="aces", exposure=0.5, pulse_exposure=0.5, lut="warm_fade",
                            vignette=0.0, grain_intensity=0.4, chroma_shift=0.0)  # fmt: skip
    cpu, dev, chain = both(settings, clip, out=SIZE)
    assert chain.effects == ["tone", "lut", "grain"]
    np.testing.assert_array_equal(cpu, dev)


def test_trails_carry_over_batches_on_the_device(clip):
    settings = PostFXConfig(persistence=0.8, vignette=0.0, grain_intensity=0.0, chroma_shift=0.0)
    _, by4, _ = both(settings, clip, out=SIZE, batch=4)
    _, by12, _ = both(settings, clip, out=SIZE, batch=12)
    np.testing.assert_array_equal(by4, by12)


def test_subframes_average_alike_on_the_device(clip):
    for factor in (1, 2, 3):
        np.testing.assert_array_equal(average_subframes(torch.from_numpy(clip), factor=factor).numpy(),
                                      average_subframes(clip, factor=factor))  # fmt: skip


def test_cuda_torch_decoder_keeps_frames_on_the_device(monkeypatch, tiny_model_dir):
    with pytest.raises(RenderError, match="no CUDA device"):
        open_decoder(tiny_model_dir, backend="torch", provider="cuda")
    cpu = open_decoder(tiny_model_dir, backend="torch", provider="cpu", precision="fp32")
    assert not cpu.keeps_frames_on_device
    mock_cuda(monkeypatch)
    dec = open_decoder(tiny_model_dir, backend="torch", provider="cuda", batch_size=3)
    assert dec.provider == "torch:cuda:bf16" and dec.keeps_frames_on_device
    z = np.random.default_rng(0).standard_normal((7, 8, 4, 4)).astype(np.float32)
    frames = dec.decode_tensor(z)
    assert isinstance(frames, torch.Tensor) and frames.dtype == torch.uint8
    assert tuple(frames.shape) == (7, 64, 64, 3)
    np.testing.assert_array_equal(frames.numpy(), dec.decode(z))  # same code, same device


def test_autotune_batch_from_free_memory(monkeypatch):
    assert device_pipeline.autotune_batch(free_bytes=1024 * MiB, per_frame_bytes=40 * MiB) == 12
    assert device_pipeline.autotune_batch(free_bytes=10 * MiB, per_frame_bytes=40 * MiB) == 1
    assert device_pipeline.autotune_batch(free_bytes=2**40, per_frame_bytes=MiB) == 64
    with pytest.raises(ValueError, match="budget"):
        device_pipeline.autotune_batch(free_bytes=1, per_frame_bytes=1, budget=0.0)
    mock_cuda(monkeypatch, free=1024 * MiB, per_frame=40 * MiB)
    probed = []
    choice = device_pipeline.tune_batch(torch.device("cpu"), probed.append)
    assert probed == [1] and choice == device_pipeline.BatchChoice(12, 1024 * MiB, 40 * MiB)


def test_encoder_choice_reads_the_real_ffmpeg(monkeypatch):
    ffmpeg = find_ffmpeg()
    listed = "h264_nvenc" in ffmpeg_encoders(ffmpeg)  # the imageio-ffmpeg build lists it
    assert "libx264" in ffmpeg_encoders(ffmpeg) and encoder_opens(ffmpeg, "libx264")
    cpu = profiles.choose_encoder("youtube", on_cuda=False, ffmpeg=ffmpeg)
    assert cpu.profile is profiles.PROFILES["youtube"] and cpu.threads is None  # unchanged
    if not encoder_opens(ffmpeg, "h264_nvenc"):  # no NVIDIA driver here: libx264, more threads
        gpu = profiles.choose_encoder("youtube", on_cuda=True, ffmpeg=ffmpeg)
        assert gpu.profile.video_codec == "libx264" and gpu.threads >= 1
        assert ("cannot open" if listed else "has no h264_nvenc") in gpu.reason
        with pytest.raises(FFmpegError, match="nvenc"):
            profiles.choose_encoder("youtube", video_encoder="nvenc", ffmpeg=ffmpeg)
    webm = profiles.choose_encoder("webm", on_cuda=True, ffmpeg=ffmpeg)
    assert webm.profile.video_codec == "libvpx-vp9"
    # encode.x264_preset replaces a libx264 profile's preset, and nothing else's
    slow = profiles.choose_encoder("youtube", x264_preset="veryfast", ffmpeg=ffmpeg).profile
    assert (slow.preset, profiles.PROFILES["youtube"].preset) == ("veryfast", "superfast")
    args = slow.video_args(width=1920, height=1080, fps=30, threads=4)
    assert args[args.index("-preset") + 1] == "veryfast"
    vp9 = profiles.choose_encoder("webm", x264_preset="veryfast", ffmpeg=ffmpeg).profile
    assert vp9 is profiles.PROFILES["webm"]


def test_nvenc_is_chosen_where_ffmpeg_has_it(monkeypatch, tmp_path):
    monkeypatch.setattr(profiles, "ffmpeg_encoders", lambda binary: frozenset({"h264_nvenc"}))
    monkeypatch.setattr(profiles, "encoder_opens", lambda binary, name: name == "h264_nvenc")
    ffmpeg = find_ffmpeg()
    choice = profiles.choose_encoder("youtube", on_cuda=True, ffmpeg=ffmpeg)
    assert choice.profile.video_codec == "h264_nvenc" and choice.profile.container == "mp4"
    assert profiles.choose_encoder("youtube", video_encoder="software", on_cuda=True,
                                   ffmpeg=ffmpeg).profile.video_codec == "libx264"  # fmt: skip
    argv = FrameWriter(tmp_path / "a.mp4", fps=60, size=(1920, 1080), profile=choice.profile).argv
    assert argv[argv.index("-c:v") + 1] == "h264_nvenc" and argv[argv.index("-g") + 1] == "30"
    assert "-b:v" in argv and "-x264-params" not in argv
    master = profiles.choose_encoder("master", on_cuda=True, ffmpeg=ffmpeg).profile
    args = master.video_args(width=1920, height=1080, fps=30, threads=4)
    assert args[args.index("-cq") + 1] == "14"


def test_a_cuda_render_leaves_the_device_only_as_final_frames(monkeypatch, tmp_path,
                                                                tiny_model_dir):  # fmt: skip
    """A real render of one track on the mocked device: the frames reach the host only as the
    final uint8 frames (one copy per batch), the rest of the traffic is the auto grade's
    measuring samples, the CPU chain never runs, the batch comes from the (mocked) free memory,
    and the frames repeat exactly."""
    per_frame = 8 * MiB
    mock_cuda(monkeypatch, free=10 * per_frame, per_frame=per_frame)  # → batch 5
    extra = "model: {backend: torch}\ndecoder: {execution_provider: cuda}\n"
    config = make_album(tmp_path, tiny_model_dir, seconds=2.0, extra=extra)
    copies: list[tuple[int, ...]] = []
    real_cpu = torch.Tensor.cpu

    def counted_cpu(self, *args, **kwargs):
        copies.append(tuple(self.shape))
        return real_cpu(self, *args, **kwargs)

    def refuse(*args, **kwargs):
        raise AssertionError("the CPU chain ran on the CUDA path")

    monkeypatch.setattr(torch.Tensor, "cpu", counted_cpu)
    monkeypatch.setattr(PostFX, "apply", refuse)
    monkeypatch.setattr("renderer.decode.decoder.Decoder.decode", refuse)
    tuned = []
    real_tune = device_pipeline.tune_batch
    monkeypatch.setattr(device_pipeline, "tune_batch",
                        lambda *a, **k: tuned.append(real_tune(*a, **k)) or tuned[-1])  # fmt: skip
    assert track_main(["--config", str(config), "--track", "t1", "--output-root", "a"]) == 0
    track = read_meta(config, "a")["tracks"][0]
    assert track["ok"] and track["frames"] == 48
    assert len(tuned) == 1 and tuned[0].batch == 5
    final = [s for s in copies if s[1:] == (72, 128, 3)]
    samples = [s for s in copies if s[1:] != (72, 128, 3)]
    assert sum(s[0] for s in final) == 48 and max(s[0] for s in final) == 5
    biggest_sample = max(np.prod(s[1:3]) for s in samples)
    assert biggest_sample <= 2 * max(SAMPLE_PIXELS, COLOUR_PIXELS) and all(
        len(s) == 4 for s in samples
    )
    assert track_main(["--config", str(config), "--track", "t1", "--output-root", "b"]) == 0
    again = read_meta(config, "b")["tracks"][0]
    assert [c["frame_hashes"] for c in again["chunks"]] == [
        c["frame_hashes"] for c in track["chunks"]
    ]


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_a_real_gpu(clip):  # pragma: no cover - run by benchmarks/gpu.sh where there is a GPU
    """The same checks on the real device: the chain matches the CPU one, the decoder keeps its
    frames on the GPU, and the batch tunes from the device's real free memory."""
    for name, block in preset_postfx().items():
        settings = PostFXConfig(**block)
        signals = {"pulse": np.linspace(0, 1, len(clip))}
        kw = dict(size=SIZE, seed=3, track_id="t", output_size=OUT)
        cpu = PostFX(settings, **kw).apply(
            clip.copy(), frame_indices=np.arange(12), signals=signals
        )
        dev = DevicePostFX(settings, device="cuda", **kw)
        out = dev.apply(torch.from_numpy(clip).cuda(), frame_indices=np.arange(12), signals=signals)
        assert out.device.type == "cuda"
        diff = np.abs(cpu.astype(int) - out.cpu().numpy())
        assert diff.max() <= 4 and (diff == 0).mean() >= 0.985 and diff.mean() < 0.03, name
    choice = device_pipeline.tune_batch(torch.device("cuda"), lambda n: torch.empty(n, 2**20,
                                        device="cuda"))  # fmt: skip
    assert 1 <= choice.batch <= device_pipeline.MAX_BATCH and choice.free_bytes > 0
