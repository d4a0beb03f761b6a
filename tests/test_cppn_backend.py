"""The CPPN decoder backend: seeded and deterministic, chunk-addressable, resolution-independent,
reacting to its latents/pulses/time, inside the visual-quality ranges, and through the real
pipeline (real FFmpeg, real audio decoding) with a resume that gives the same frame hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from control_fixtures import make_analysis, make_frames
from render_fixtures import FPS, make_album, read_meta

from renderer.config.models import ControllerSettings, CPPNConfig, PostFXConfig
from renderer.config.overlay import deep_merge
from renderer.control.controller import LatentController
from renderer.decode.cppn import LATENT_SHAPE, cppn_meta
from renderer.decode.decoder import open_decoder
from renderer.errors import ModelError
from renderer.fx.frame_stats import frame_stats
from renderer.presets import list_presets, load_preset

SMALL = (160, 90)


@pytest.fixture(scope="module")
def decoder():
    return open_decoder("no-model-folder-needed", backend="cppn", batch_size=4)


def _digest(frames: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()


def _anchors(n: int = 4) -> np.ndarray:
    return np.stack([a.latent for a in cppn_meta().anchors[:n]])


def _controller(preset: str, *, seconds: float = 4.0, fps: float = 30.0) -> LatentController:
    settings = deep_merge(
        ControllerSettings().model_dump(), load_preset(preset).controller_overlay()
    )
    return LatentController(
        meta=cppn_meta(),
        frames=make_frames(seconds=seconds, fps=fps),
        analysis=make_analysis(seconds=seconds, sections=(0.0, 2.0)),
        settings=settings,
        seed=5,
        latent_hw=LATENT_SHAPE[1:],
    )


def test_backend_is_registered_and_needs_no_model(decoder):
    assert decoder.resolution_free and decoder.provider.startswith("cpu")
    assert decoder.latent_hw((1920, 1080)) == decoder.latent_hw((128, 72)) == LATENT_SHAPE[1:]
    assert decoder.frame_size((1280, 720)) == (1280, 720)  # no enlargement
    assert set(decoder.meta.artefacts) == {"cppn"} and decoder.meta.artefacts["cppn"]["sha256"]
    with pytest.raises(ModelError, match="CPU only"):
        open_decoder("models", backend="cppn", provider="cuda")
    with pytest.raises(ValueError, match="size="):
        decoder.decode(_anchors(1))


def test_same_seed_same_frames_and_other_seed_other_frames(decoder):
    latents, times = _anchors(), np.arange(4) / 30.0
    first = decoder.decode(latents, size=SMALL, times=times)
    assert first.shape == (4, SMALL[1], SMALL[0], 3) and first.dtype == np.uint8
    fresh = open_decoder("models", backend="cppn", batch_size=3)  # other batching, new instance
    assert _digest(fresh.decode(latents, size=SMALL, times=times)) == _digest(first)
    other = decoder.decode(latents, size=SMALL, times=times, look=CPPNConfig(seed=1))
    assert np.abs(other.astype(int) - first).mean() > 10


def test_a_chunk_rendered_alone_equals_the_same_frames_of_a_longer_render(decoder):
    ctrl = _controller("cppn-pulse")
    look = load_preset("cppn-pulse").cppn
    whole = decoder.decode(ctrl.latents(0, 30), size=SMALL, times=np.arange(30) / 30.0, look=look)
    part = decoder.decode(ctrl.latents(10, 20), size=SMALL, times=np.arange(10, 20) / 30.0,
                          look=look)  # fmt: skip
    assert np.array_equal(part, whole[10:20])
    assert len({_digest(f) for f in whole}) == 30  # and every frame differs: it moves


@pytest.mark.parametrize(
    ("fine_share", "same_max", "ratio_max"), [(0.0, 1.0, 0.05), (0.5, 35.0, 0.6)]
)
def test_the_same_pattern_at_two_sizes(decoder, fine_share, same_max, ratio_max):
    """Broad waves only: the small render is the downscaled large one (within a level). With the
    fine band (the default), its pixel-scale lines fade out at the small size and their mixing
    in the hidden layers goes with them: still the same picture, measurably less exactly."""
    look = CPPNConfig(fine_share=fine_share)
    latents, times = _anchors(3), np.array([0.0, 1.0, 2.0])
    large = decoder.decode(latents, size=(640, 360), times=times, look=look)
    small = decoder.decode(latents, size=SMALL, times=times, look=look)
    for i in range(3):
        down = cv2.resize(large[i], SMALL, interpolation=cv2.INTER_AREA).astype(np.float32)
        same = np.abs(down - small[i]).mean()
        other = np.abs(down - small[(i + 1) % 3]).mean()
        assert same < same_max and same < ratio_max * other, (i, same, other)


def test_reacts_to_latent_pulse_and_time(decoder):
    base = _anchors(2)
    frames = decoder.decode(base, size=SMALL, times=np.zeros(2))
    assert np.abs(frames[0].astype(int) - frames[1]).mean() > 10  # other anchor, other picture
    pulsed = base[:1].copy()
    pulsed[0, 0] += 0.9 * np.sqrt(LATENT_SHAPE[0])  # what the controller adds at pulse = 1
    kick = decoder.decode(pulsed, size=SMALL, times=np.zeros(1))
    assert np.abs(kick[0].astype(int) - frames[0]).mean() > 5
    later = decoder.decode(base[:1], size=SMALL, times=np.ones(1))
    assert np.abs(later[0].astype(int) - frames[0]).mean() > 5  # the field flows with time


def test_controller_pulses_move_the_frames_on_the_beat(decoder):
    ctrl = _controller("cppn-pulse", seconds=2.0)
    n = ctrl.n_frames
    frames = decoder.decode(ctrl.latents(0, n), size=(64, 36), times=np.arange(n) / 30.0,
                            look=load_preset("cppn-pulse").cppn).astype(np.float32)  # fmt: skip
    change = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    pulse = ctrl.signals(0, n)["pulse"]
    rise = np.clip(np.diff(pulse), 0.0, None)
    assert np.corrcoef(change, rise)[0, 1] > 0.5


CPPN_PRESETS = [p for p in list_presets() if p.startswith("cppn-")]


def test_at_least_two_cppn_presets():
    assert len(CPPN_PRESETS) >= 2
    looks = {load_preset(p).cppn for p in CPPN_PRESETS}
    assert len(looks) == len(CPPN_PRESETS)  # each has a look of its own


@pytest.mark.parametrize("name", CPPN_PRESETS)
def test_preset_frames_pass_the_visual_ranges_at_720p(decoder, name):
    from renderer.fx.postfx import PostFX

    preset = load_preset(name)
    ctrl = _controller(name)
    picks = np.array([5, 40, 75, 110])  # on and off the beat, both scenes
    size = (1280, 720)
    frames = decoder.decode(np.concatenate([ctrl.latents(i, i + 1) for i in picks]), size=size,
                            times=picks / 30.0, look=preset.cppn)  # fmt: skip
    fx = PostFXConfig(**{**preset.postfx.model_dump(), "grain_intensity": 0.0})
    signals = {k: np.concatenate([ctrl.signals(i, i + 1)[k] for i in picks])
               for k in ("pulse", "energy", "scene_cut", "hue")}  # fmt: skip
    graded = PostFX(fx, size=size, seed=5, track_id=name).apply(
        frames, frame_indices=picks, signals=signals
    )
    for i, frame in zip(picks, graded, strict=True):
        stats = frame_stats(frame)
        assert not stats.failures(), (name, int(i), stats)


def test_end_to_end_render_and_resume_give_identical_frame_hashes(tmp_path, tiny_model_dir,
                                                                   monkeypatch):  # fmt: skip
    from renderer.render_track import main as track_main

    monkeypatch.chdir(tmp_path)
    album = make_album(tmp_path, tiny_model_dir, seconds=2.0,
                       extra="model: {backend: cppn}\ncontroller: {preset: cppn-flow}\n")  # fmt: skip
    argv = ["--config", str(album), "--track", "t0", "--keep-frames"]
    assert track_main([*argv, "--output-root", "ref"]) == 0
    ref = read_meta(album, "ref")
    track = ref["tracks"][0]
    assert track["ok"] and track["frames"] == 2 * FPS and len(track["chunks"]) == 2
    assert ref["model"]["artefacts"]["cppn"]["sha256"]
    assert ref["config"]["model"]["backend"] == "cppn"

    run_dir = Path(track["output"]).parent
    (run_dir / "segments" / "t0" / "0001.mp4").write_bytes(b"tampered")
    Path(track["output"]).unlink()  # unfinished: resume re-renders only the damaged chunk
    assert track_main([*argv, "--output-root", "ref", "--resume"]) == 0
    again = read_meta(album, "ref")["tracks"][0]
    assert (again["chunks_skipped"], again["chunks_rendered"]) == (1, 1)
    assert [c["frame_hashes"] for c in again["chunks"]] == [
        c["frame_hashes"] for c in track["chunks"]
    ]
