"""Reactivity metrics on synthetic change series and on real FFmpeg-encoded test videos."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest
from control_fixtures import make_analysis, make_frames

from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.errors import FFmpegError
from renderer.run.reactivity import (
    accents,
    frame_changes,
    measure_reactivity,
    reactivity_from_changes,
)

FPS = 30


def encode(path: Path, frames: np.ndarray, *, fps: int = FPS) -> Path:
    """uint8 [N, H, W] grey frames → near-lossless H.264 file."""
    n, h, w = frames.shape
    argv = [
        str(find_ffmpeg()), "-v", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{h}", "-r", str(fps), "-i", "-",
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-pix_fmt", "yuv444p", str(path),
    ]  # fmt: skip
    subprocess.run(argv, input=frames.tobytes(), check=True)
    return path


def flashing_frames(n: int, flashes, *, size=(72, 128), seed=0, low=40, gain=100) -> np.ndarray:
    """A fixed noise texture in [low, low+80), brightened by ``gain`` on the ``flashes`` frames."""
    base = np.random.default_rng(seed).integers(low, low + 80, size, dtype=np.uint8)
    frames = np.repeat(base[None], n, axis=0)
    frames[list(flashes)] += gain
    return frames


def test_frame_changes_find_the_flashes(tmp_path):
    flashes = [10, 25, 47]
    video = encode(tmp_path / "flash.mp4", flashing_frames(60, flashes))
    change = frame_changes(video)
    assert change.shape == (60,) and change[0] == 0.0
    loud = set(np.flatnonzero(change > 0.1))
    assert loud == {f for x in flashes for f in (x, x + 1)}  # on and off again
    assert change[[10, 25, 47]].min() == pytest.approx(100 / 255, abs=0.02)


def test_static_video_scores_zero(tmp_path):
    video = encode(tmp_path / "static.mp4", flashing_frames(90, []))
    frames, analysis = make_frames(seconds=3), make_analysis(seconds=3, sections=(0.0, 1.5))
    result = measure_reactivity(video, frames=frames, analysis=analysis)
    assert result["mean_change"] < 1e-3
    assert result["onset_pearson"] == 0.0 and result["beat_accent_rate"] == 0.0
    assert result["section_hit_rate"] == 0.0 and result["video_frames"] == 90


def test_video_flashing_on_beats_and_sections_scores_high(tmp_path):
    frames, analysis = make_frames(seconds=6), make_analysis(seconds=6, sections=(0.0, 3.0))
    beat_frames = np.round(analysis.beats * FPS).astype(int)
    pixels = flashing_frames(frames.n_frames, beat_frames, gain=60)
    # a new, brighter "scene" from the section boundary (3 s) on
    pixels[90:] = flashing_frames(frames.n_frames, beat_frames, seed=1, low=130, gain=60)[90:]
    onset = np.zeros(frames.n_frames, np.float32)
    onset[beat_frames] = 1.0
    frames = dataclasses.replace(frames, onset=onset)
    result = measure_reactivity(
        encode(tmp_path / "beats.mp4", pixels), frames=frames, analysis=analysis
    )
    assert result["beat_accent_rate"] == 1.0 and result["beats"] == len(beat_frames)
    assert result["onset_pearson"] > 0.6  # flash on (lag 0) and off (lag 1) tie
    assert result["section_hit_rate"] == 1.0
    assert result["beat_accent_chance"] < 0.5


def test_correlation_finds_a_one_frame_lag():
    rng = np.random.default_rng(0)
    onset = rng.random(300)
    late = np.r_[0.0, onset[:-1]]
    result = reactivity_from_changes(late, fps=FPS, onset=onset, beats=[], section_starts=[])
    assert result["onset_lag"] == 1 and result["onset_pearson"] == pytest.approx(1.0)
    assert result["onset_spearman"] == pytest.approx(1.0) and result["beats"] == 0
    assert result["beat_accent_rate"] == 0.0 and result["section_hit_rate"] is None


def test_beat_accents_against_chance():
    rng = np.random.default_rng(1)
    change = 0.01 + 0.002 * rng.random(600)
    beats = np.arange(0.5, 19.5, 0.5)
    change[np.round(beats * FPS).astype(int) + 1] += 0.05  # accents one frame late still count
    result = reactivity_from_changes(
        change, fps=FPS, onset=np.zeros(600), beats=beats, section_starts=[0.0]
    )
    assert result["beat_accent_rate"] == 1.0 and result["sections"] == 0
    shuffled = reactivity_from_changes(
        change, fps=FPS, onset=np.zeros(600), beats=beats + 0.25, section_starts=[]
    )
    assert shuffled["beat_accent_rate"] < 0.2
    assert abs(shuffled["beat_accent_chance"] - 2 * len(beats) / 600) < 0.05


def test_accents_need_more_than_noise():
    assert not accents(np.full(50, 1e-4), fps=FPS).any()
    spike = np.full(50, 1e-4)
    spike[20] = 0.1
    assert np.flatnonzero(accents(spike, fps=FPS)).tolist() == [20]


def test_section_hits_use_the_half_second_after_the_boundary():
    change = np.full(300, 0.001)
    change[150:160] = 0.05  # a dissolve starting at 5 s
    hit = reactivity_from_changes(
        change, fps=FPS, onset=np.zeros(300), beats=[], section_starts=[5.0]
    )
    miss = reactivity_from_changes(
        change, fps=FPS, onset=np.zeros(300), beats=[], section_starts=[8.0]
    )
    assert hit["section_hit_rate"] == 1.0 and miss["section_hit_rate"] == 0.0


def test_unreadable_video_raises_ffmpeg_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(FFmpegError, match="bad.mp4"):
        frame_changes(bad)


@pytest.mark.parametrize("preset", ["pulse", "default"])
def test_controller_through_tiny_generator_makes_a_reactive_video(tiny_model_dir, tmp_path, preset):
    """Controller → real ONNX generator → the preset's postfx → FFmpeg → metric: the picture
    follows beats, onsets and sections."""
    from renderer.config.models import ControllerSettings, PostFXConfig
    from renderer.config.overlay import deep_merge
    from renderer.control.controller import LatentController
    from renderer.decode.decoder import open_decoder
    from renderer.decode.model_meta import load_model_meta
    from renderer.fx.postfx import PostFX
    from renderer.presets import load_preset

    meta = load_model_meta(tiny_model_dir)
    frames, analysis = make_frames(seconds=12), make_analysis(seconds=12)
    merged = deep_merge(ControllerSettings().model_dump(), load_preset(preset).controller_overlay())
    controller = LatentController(
        meta=meta,
        frames=frames,
        analysis=analysis,
        settings=ControllerSettings.model_validate(merged),
        seed=1,
        latent_hw=(4, 6),
    )
    decoder = open_decoder(tiny_model_dir, batch_size=16)
    rgb = np.concatenate(
        [
            decoder.decode(controller.latents(a, min(a + 90, frames.n_frames)))
            for a in range(0, 360, 90)
        ]
    )
    settings = PostFXConfig.model_validate(load_preset(preset).postfx_overlay())
    fx = PostFX(settings, size=(rgb.shape[2], rgb.shape[1]), seed=1, track_id="t")
    rgb = fx.apply(rgb, frame_indices=np.arange(len(rgb)), signals=controller.signals(0, len(rgb)))
    grey = rgb.mean(axis=3).astype(np.uint8)
    result = measure_reactivity(
        encode(tmp_path / "tiny.mp4", grey), frames=frames, analysis=analysis
    )
    assert result["beat_accent_rate"] >= result["beat_accent_chance"] + 0.4
    assert result["onset_pearson"] > 0.3
    assert result["section_hit_rate"] == 1.0
