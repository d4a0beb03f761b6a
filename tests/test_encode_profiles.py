"""GOP structure of encoded files: key frames exactly every N frames where a profile promises it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from renderer.encode.frame_writer import FrameWriter
from renderer.encode.media import probe_media
from renderer.encode.profiles import get_profile, gop_size

W, H, FPS = 64, 36, 30
CUT_EVERY = 7  # a hard cut every 7 frames: x264's scene-cut detection keys each one


def hard_cuts(n: int) -> np.ndarray:
    """Blocky random pictures, a new one every CUT_EVERY frames, sliding between cuts."""
    rng = np.random.default_rng(1)
    out = np.empty((n, H, W, 3), np.uint8)
    for i in range(n):
        if i % CUT_EVERY == 0:
            scene = rng.integers(0, 256, (H // 4, W // 4, 3), dtype=np.uint8).repeat(4, 0)
            scene = scene.repeat(4, 1)
        out[i] = np.roll(scene, i % CUT_EVERY, axis=1)
    return out


def encode(path, profile, n: int = 120):
    with FrameWriter(path, fps=FPS, size=(W, H), profile=profile) as writer:
        writer.write(hard_cuts(n))
    return probe_media(path)


def test_youtube_gop_is_fixed_despite_hard_cuts(tmp_path):
    gop = gop_size(FPS)
    assert gop == 15
    info = encode(tmp_path / "yt.mp4", "youtube")
    assert info["frames"] == 120
    assert info["key_frames"] == list(range(0, 120, gop))  # [0, 15, 30, …, 105]


def test_scene_cuts_would_add_key_frames_without_fixed_gop(tmp_path):
    """The control: the same content with scene-cut detection on keys every cut."""
    loose = dataclasses.replace(get_profile("youtube"), fixed_gop=False)
    keys = encode(tmp_path / "loose.mp4", loose)["key_frames"]
    assert len(keys) > 120 // gop_size(FPS)
    assert np.diff(keys).mean() < gop_size(FPS)


def test_fixed_gop_argv():
    args = get_profile("youtube").video_args(width=W, height=H, fps=FPS, threads=2)
    assert args[args.index("-sc_threshold") + 1] == "0"
    assert args[args.index("-keyint_min") + 1] == args[args.index("-g") + 1] == "15"
    draft = get_profile("draft").video_args(width=W, height=H, fps=FPS, threads=2)
    assert "-sc_threshold" not in draft  # promises no fixed GOP: scene cuts keep their keys


@pytest.mark.parametrize("fps, gop", [(24, 12), (29.97, 15), (60, 30)])
def test_gop_follows_the_frame_rate(fps, gop):
    args = get_profile("youtube").video_args(width=W, height=H, fps=fps, threads=2)
    assert args[args.index("-g") + 1] == args[args.index("-keyint_min") + 1] == str(gop)


def test_video_encode_benchmark_scores_each_preset_against_its_source(tmp_path, capsys):
    from conftest import load_benchmark

    bench = load_benchmark("video_encode")
    source = tmp_path / "track.mkv"
    with FrameWriter(source, fps=FPS, size=(W, H), profile="master", segment=False) as writer:
        writer.write(hard_cuts(45))
    assert bench.main([str(source), "--seconds", "1", "--presets", "ultrafast,veryfast",
                       "--repeat", "1"]) == 0  # fmt: skip
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == {"ultrafast", "veryfast"}
    for cells in rows.values():
        wall, cpu, ssim, psnr = map(float, cells[1:])
        assert wall > 0 and cpu >= 0 and 0.5 < ssim <= 1.0 and psnr > 20
    # the same frames through another preset: the score is of that encode, not a constant
    assert rows["ultrafast"][3:] != rows["veryfast"][3:]


def busy_1080p(n: int) -> np.ndarray:
    """Moving noise over blocks at 1080p: enough detail that the YouTube bitrate's VBV works."""
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (1080 // 8, 1920 // 8, 3), dtype=np.uint8)
    base = blocks.repeat(8, 0).repeat(8, 1)
    noise = rng.integers(0, 64, (1080, 1920 + 4 * n, 3), dtype=np.uint8)
    return np.stack([base + noise[:, 4 * i : 4 * i + 1920] for i in range(n)])


def test_youtube_segments_repeat_byte_for_byte_at_1080p(tmp_path):
    """x264's VBV with several threads (frame or slice) made identical frames encode to
    different files at 1080p; the default writer (no ``threads`` given) encodes them in one
    thread, so every run gives the same bytes."""
    frames = busy_1080p(30)
    digests = set()
    for run in range(3):
        path = tmp_path / f"run{run}.mp4"
        with FrameWriter(path, fps=FPS, size=(1920, 1080), profile="youtube") as writer:
            writer.write(frames)
        digests.add(path.read_bytes())
    assert len(digests) == 1


def test_x264_vbv_runs_in_one_thread_unless_threads_are_chosen():
    youtube = get_profile("youtube")
    args = youtube.video_args(width=1920, height=1080, fps=FPS, threads=4)
    assert args[args.index("-threads") + 1] == "1" and "sliced-threads=1" not in args
    fast = youtube.video_args(width=1920, height=1080, fps=FPS, threads=16, repeatable=False)
    assert fast[fast.index("-threads") + 1] == "16" and "sliced-threads=1" in fast
    crf = get_profile("master").video_args(width=1920, height=1080, fps=FPS, threads=4)
    assert crf[crf.index("-threads") + 1] == "4"  # CRF without a VBV repeats with threads
