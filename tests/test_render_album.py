"""End to end: a tiny album through the real pipeline (ONNX Runtime, FFmpeg) — outputs, meta.json,
album film, failures that stay contained, and clear messages for bad input."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
from render_fixtures import FPS, SIZE, make_album, read_meta

from renderer.encode.media import probe_media
from renderer.render_album import main as album_main


@pytest.fixture
def album_config(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_album(tmp_path, tiny_model_dir)


def test_album_render_outputs(album_run):
    meta, run_dir = album_run.meta, album_run.run_dir
    assert meta["model"]["provider"] == "CPUExecutionProvider"
    assert set(meta["model"]["artefacts"])
    assert set(meta["versions"]) >= {"torch", "onnxruntime", "numpy", "librosa", "ffmpeg"}
    assert meta["config"]["frame_rate"] == FPS and meta["seed"] == 3
    for track in meta["tracks"]:
        assert track["ok"] and track["frames"] == 3 * FPS and len(track["chunks"]) == 3
        assert track["sync_error_ms"] <= 5.0
        assert len(track["chunks"][0]["frame_hashes"]) == FPS
        probe = probe_media(track["output"])
        assert (probe["width"], probe["height"], probe["frames"]) == (*SIZE, 3 * FPS)
        assert abs(probe["video_duration"] - probe["audio_duration"]) <= 0.005
        previews = track["previews"]
        assert Path(previews["thumbnail"]).is_file() and Path(previews["gif"]).is_file()
        assert previews["keyframes"] and all(Path(p).is_file() for p in previews["keyframes"])
        react = track["reactivity"]
        assert "onset_pearson" in react
        assert react["beat_reference"] == "own analysis (self-referenced)"
        # the tracklist states bpm + first_beat: accents are also scored against that grid
        assert react["reference_beats"] >= 5
        assert 0.0 <= react["reference_beat_accent_chance"] <= 1.0
        assert 0.0 <= react["reference_beat_accent_rate"] <= 1.0
        loudness = track["loudness"]
        assert loudness["target_lufs"] == -14.0
        # what the mastered WAV measured, not what the gain was meant to give
        assert abs(loudness["output_lufs"] - loudness["target_lufs"]) <= 1.0
        assert loudness["true_peak_db"] <= -1.0 + 1e-6 and loudness["limiting_db"] >= 0.0
    assert meta["tracks"][1]["preset"] == "pulse"
    from PIL import Image

    assert Image.open(meta["tracks"][0]["previews"]["thumbnail"]).size == (1280, 720)
    album = probe_media(meta["album"])
    assert album["frames"] == 6 * FPS and len(album["chapters"]) == 2
    assert abs(album["audio_duration"] - 6.0) < 0.03
    # content, not just files: the film starts with t0's pictures and switches to t1's at 3 s;
    # the two tracks look different and the picture moves
    from renderer.encode.media import read_frames

    t0 = read_frames(Path(meta["tracks"][0]["output"]), [0, 40], size=SIZE)
    t1 = read_frames(Path(meta["tracks"][1]["output"]), [0], size=SIZE)
    film = read_frames(Path(meta["album"]), [0, 3 * FPS], size=SIZE)
    assert np.abs(film[0].astype(int) - t0[0]).mean() < 3.0
    assert np.abs(film[3 * FPS].astype(int) - t1[0]).mean() < 3.0
    assert np.abs(t0[0].astype(int) - t1[0]).mean() > 5.0
    assert np.abs(t0[0].astype(int) - t0[40]).mean() > 1.0
    assert not (run_dir / "segments").exists()  # intermediates cleaned up on success
    assert not (run_dir / "audio").exists()
    assert "render summary" in album_run.stderr and "album.mp4" in album_run.stderr


def test_broken_track_is_reported_and_the_rest_renders(album_config):
    (album_config.parent / "album" / "t0.wav").write_bytes(b"RIFF\x00\x00not really audio")
    assert album_main(["--config", str(album_config)]) == 1
    meta = read_meta(album_config)
    bad, good = meta["tracks"]
    assert not bad["ok"] and "t0.wav" in bad["error"]
    assert good["ok"] and Path(good["output"]).is_file()
    assert meta["album"] is not None  # the film carries the tracks that rendered
    assert not Path(meta["album"]).with_name("t0.mp4").exists()


def test_missing_audio_is_reported(album_config):
    (album_config.parent / "album" / "t1.wav").unlink()
    assert album_main(["--config", str(album_config), "--tracks", "t1"]) == 1
    (track,) = read_meta(album_config)["tracks"]
    assert not track["ok"] and "t1.wav" in track["error"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda root: (root / "album" / "tracklist.json").write_text(
            json.dumps([{"id": "x", "src": "../outside.wav"}])), "outside"),
        (lambda root: (root / "render.yaml").write_text("controller: {preset: nope}\n"), "nope"),
        (lambda root: (root / "models" / "generator.fp32.onnx").write_bytes(b"tampered"), "sha256"),
        (lambda root: (root / "render.yaml").write_text("frame_rate: 500\n"), "frame_rate"),
    ],
)  # fmt: skip
def test_bad_inputs_give_clear_errors(album_config, capsys, mutate, message):
    mutate(album_config.parent)
    assert album_main(["--config", str(album_config)]) == 2
    assert message in capsys.readouterr().err.replace("\n", "")
    assert not list((album_config.parent / "renders").glob("*/*.mp4"))


def test_dry_run_prints_the_plan_and_renders_nothing(album_config, capsys):
    assert album_main(["--config", str(album_config), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "t1" in err and str(3 * FPS) in err and "3 × 24" in err and "estimated" in err
    assert not (album_config.parent / "renders").exists()


def test_missing_ffmpeg_is_reported(album_config, capsys):
    with open(album_config, "a") as fh:
        fh.write("encode: {ffmpeg_path: /nonexistent/ffmpeg}\n")
    assert album_main(["--config", str(album_config)]) == 2
    assert "ffmpeg" in capsys.readouterr().err.lower()


def test_crashing_ffmpeg_fails_the_tracks_cleanly(album_config, tmp_path):
    from renderer.encode.ffmpeg_bin import find_ffmpeg

    real = find_ffmpeg()
    fake = tmp_path / "ffmpeg"
    # answers the version probe like the real one, then dies on any encode
    fake.write_text(
        f'#!/bin/sh\ncase "$*" in *-version*) exec "{real}" "$@";; esac\n'
        'echo "simulated crash" >&2\nkill -9 $$\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with open(album_config, "a") as fh:
        fh.write(f"encode: {{ffmpeg_path: {fake}}}\n")
    assert album_main(["--config", str(album_config)]) == 1
    meta = read_meta(album_config)
    assert all(not t["ok"] and "ffmpeg" in t["error"].lower() for t in meta["tracks"])
    run_dir = album_config.parent / "renders" / meta["run_id"]
    assert not list(run_dir.glob("*.mp4")) and not list(run_dir.glob("segments/*/*.mp4"))
    assert not list(run_dir.glob("**/*.partial*"))  # no half-written file left behind
