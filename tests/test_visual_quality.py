"""The visual-quality measures (renderer/fx/frame_stats.py, renderer/fx/quality.py) and the
benchmark that tables them (benchmarks/visual_quality.py), on real encoded files."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_benchmark
from PIL import Image

from renderer.encode.frame_writer import FrameWriter
from renderer.fx import quality
from renderer.fx.frame_stats import edge_width, frame_stats, sharpness


def _detailed(seed: int = 0, size: int = 256) -> np.ndarray:
    """Native detail: a colour field with 1–3 px structure, uint8 ``[S, S, 3]``."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(rng.random((8, 8, 3)).astype(np.float32), (size, size))
    fine = rng.random((size, size, 1)).astype(np.float32)
    return np.clip((0.6 * coarse + 0.4 * fine) * 255, 0, 255).astype(np.uint8)


def _encode(path: Path, frames: np.ndarray, *, fps: float = 10.0) -> Path:
    with FrameWriter(path, fps=fps, size=(frames.shape[2], frames.shape[1]), segment=False,
                     profile="master") as writer:  # fmt: skip
        writer.write(frames)
    return path


def test_sharpness_tells_native_detail_from_an_enlargement():
    image = _detailed()
    native = sharpness(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY))
    enlarged = sharpness(cv2.cvtColor(quality.enlarge(image[64:128, 64:128]), cv2.COLOR_RGB2GRAY))
    assert native > 0.5 and enlarged < 0.25 and native > 2.5 * enlarged


def test_edge_width_tells_a_hard_edge_from_a_soft_one_and_ignores_grain():
    disc = np.zeros((96, 96), np.float32)
    cv2.circle(disc, (48, 48), 30, 200, -1)
    assert edge_width(disc) == pytest.approx(1.0)
    enlarged = cv2.resize(disc[::4, ::4].copy(), (96, 96), interpolation=cv2.INTER_CUBIC)
    assert 3.5 < edge_width(enlarged) < 5.0
    blurred = [edge_width(cv2.GaussianBlur(disc, (0, 0), s)) for s in (1.0, 2.0)]
    assert blurred == pytest.approx([2.56, 5.12], rel=0.15)  # the 10–90 % rise of a Gaussian
    rng = np.random.default_rng(0)
    grain = rng.normal(0, 6, enlarged.shape).astype(np.float32)
    assert edge_width(enlarged + grain) > 3.0  # grain does not make the enlargement read sharp
    assert np.isnan(edge_width(np.clip(20 + 1.5 * grain, 0, 255)))  # no edge in a dark grain


def test_frame_stats_on_known_frames():
    grey = np.full((32, 48, 3), 100, np.uint8)
    stats = frame_stats(grey)
    assert stats.saturation == 0.0 and stats.contrast == 0.0 and stats.luma == pytest.approx(100)
    halves = grey.copy()
    halves[:, :24] = (255, 0, 0)  # half pure red (HSV saturation 1), half grey
    stats = frame_stats(halves)
    assert stats.saturation == pytest.approx(0.5)
    grey_red = 0.299 * 255  # Rec. 601 luma of pure red
    assert stats.luma == pytest.approx((grey_red + 100) / 2, abs=1)
    assert stats.contrast == pytest.approx(abs(grey_red - 100) / 2, abs=1)
    assert stats.failures() and any("contrast" in f for f in stats.failures())


def test_sample_indices_one_per_second():
    assert quality.sample_indices(95, fps=30.0) == [0, 30, 60, 90]
    assert quality.sample_indices(10, fps=10.0, every=0.5) == [0, 5]
    with pytest.raises(ValueError, match="n_frames"):
        quality.sample_indices(0, fps=30.0)


def test_video_row_reads_the_encoded_file_at_full_size(tmp_path):
    """2.5 s at 10 fps, each second a different flat colour: three frames come back, at the
    file's size, with the colours and measures of what was encoded."""
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]
    frames = np.stack(
        [np.full((72, 128, 3), colours[min(i // 10, 2)], np.uint8) for i in range(25)]
    )
    path = _encode(tmp_path / "clip.mp4", frames)
    read = quality.encoded_frames(path)
    assert len(read) == 3 and all(f.shape == (72, 128, 3) for f in read)
    for frame, colour in zip(read, colours, strict=True):
        assert np.abs(frame.reshape(-1, 3).mean(axis=0) - colour).max() < 8  # codec + yuv420
    row = quality.video_row(path)
    assert row["n"] == 3 and row["contrast"] < 3
    assert 0.6 < row["saturation_min"] <= row["saturation"] <= row["saturation_max"] < 0.9
    assert quality.failures(row, skip=("sharpness",)) == [
        f"saturation={row['saturation']:.3f} outside [0.36, 0.6]",
        f"contrast={row['contrast']:.3f} outside [30.0, None]",
    ]


def test_benchmark_measures_a_run_and_writes_table_and_sheet(tmp_path, tiny_model_dir):
    vq = load_benchmark("visual_quality")

    run = tmp_path / "run-test"
    run.mkdir()
    rng = np.random.default_rng(1)
    frames = np.stack([cv2.resize(_detailed(i, 128), (512, 288)) for i in range(20)])
    _encode(run / "song.mp4", frames)
    _encode(run / "album.mp4", frames[:10])  # the film is not a track: left out
    (run / "config.resolved.json").write_text(
        json.dumps(
            {"controller": {"preset": "default"}, "tracks": [{"id": "song", "preset": "prism"}]}
        )
    )
    data = tmp_path / "data"
    data.mkdir()
    for i in range(8):
        Image.fromarray(_detailed(10 + i) if i % 2 else rng.integers(0, 256, (256, 256, 3),
                        dtype=np.uint8)).save(data / f"{i:05d}-x.png")  # fmt: skip
    out = tmp_path / "out"
    assert vq.main(["--run", str(run), "--out", str(out), "--data", str(data),
                    "--model", str(tiny_model_dir), "--holdout", "4"]) == 0  # fmt: skip
    table = json.loads((out / "visual_quality.json").read_text())
    rows = table["rows"]
    assert list(rows) == ["training images (native)", "same images, 4× bicubic upscale",
                          "song (prism)"]  # fmt: skip
    assert rows["song (prism)"]["n"] == 2  # 20 frames at 10 fps: one per second
    assert rows["same images, 4× bicubic upscale"]["sharpness"] < rows[
        "training images (native)"]["sharpness"]  # fmt: skip
    native, enlarged = (rows[k]["edge_width"] for k in list(rows)[:2])
    assert 1.0 <= native < 2.0 < 3.0 < enlarged  # noise images: 1-px steps; ×4: ~4 px
    swd = table["swd"]
    assert swd["n"] == 4 and swd["real_vs_real"]["swd_mean"] > 0 and swd["ratio"] > 0
    md = (out / "visual_quality.md").read_text()
    assert "| song (prism) |" in md and "real-vs-real floor" in md and "| edge px |" in md
    with Image.open(out / "visual_sheet.png") as sheet:
        # 3 rows (one track, training images, model samples) of 256² tiles, 4-px gutters
        assert sheet.size == (6 * 260 + 4, 3 * 260 + 4)


def test_heldout_presets_plans_every_recording_and_preset_and_reports_a_missing_one(
    tmp_path, capsys
):
    import soundfile as sf

    from renderer.render_album import main as render_album

    ho = load_benchmark("heldout_presets")
    song = tmp_path / "elsewhere" / "My Song.wav"
    song.parent.mkdir()
    t = np.arange(4 * 22050) / 22050
    sf.write(song, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050)
    out = tmp_path / "heldout"
    config = ho.heldout_config([song], ["prism", "nocturne"], start=1.0, seconds=2.0, grain=0.0,
                               out_root=out, upscale="bicubic")  # fmt: skip
    raw = json.loads(config.read_text())
    assert raw["postfx"]["upscale"] == "bicubic"
    assert [t["id"] for t in raw["tracks"]] == ["my-song--prism", "my-song--nocturne"]
    assert raw["tracks"][0]["trim"] == {"start": 1.0, "end": 3.0}
    assert raw["postfx"]["grain_intensity"] == 0.0
    assert (out / "audio" / "My Song.wav").read_bytes() == song.read_bytes()  # a copy
    # the renderer accepts the plan as written (a dry run renders nothing)
    assert render_album(["--config", str(config), "--dry-run"]) == 0
    captured = capsys.readouterr()
    plan = captured.out + captured.err
    assert "my-song--prism" in plan and "my-song--nocturne" in plan
    assert not list(out.glob("run-*/*.mp4"))

    run = out / "run-x"
    run.mkdir()
    frames = np.stack([cv2.resize(_detailed(i, 128), (512, 288)) for i in range(12)])
    _encode(run / "my-song--prism.mp4", frames)
    table = ho.measure(run, [song], ["prism", "nocturne"], every=0.5)
    prism, nocturne = table["rows"]["My Song / prism"], table["rows"]["My Song / nocturne"]
    assert prism["sharpness"] > 0 and isinstance(prism["failures"], list)
    assert nocturne == {"error": "my-song--nocturne.mp4: not rendered (see the run's log)"}
    md = ho.markdown(table)
    assert "| My Song / nocturne |" in md and "not rendered" in md
    assert "| training images (native) |" in md
