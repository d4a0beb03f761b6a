"""End to end: a tiny album through the real pipeline (ONNX Runtime, FFmpeg) — outputs, meta.json,
determinism, resume after SIGKILL, and failures that stay contained."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import click_track, triad

from renderer.frame_writer import probe_media
from renderer.render_album import main as album_main
from renderer.render_track import main as track_main

FPS = 24


def _album(root: Path, model_dir: Path, *, seconds: float = 3.0) -> Path:
    album = root / "album"
    album.mkdir(parents=True)
    tracks = []
    for i, (bpm, key) in enumerate([(120, "A"), (96, "F#")]):
        y, _ = click_track(bpm, seconds, sr=22050, seed=i)
        y = y + triad(key, True, seconds)[: len(y)]
        sf.write(str(album / f"t{i}.wav"), np.stack([y, 0.8 * y]).T, 22050)
        tracks.append({"id": f"t{i}", "src": f"t{i}.wav", "title": f"Track {i}", "bpm": bpm})
    (album / "tracklist.json").write_text(json.dumps(tracks))
    shutil.copytree(model_dir, root / "models")
    config = root / "render.yaml"
    config.write_text(
        f"frame_rate: {FPS}\nresolution: [128, 72]\nseed: 3\n"
        "postfx: {persistence: 0.5, grain_intensity: 0.1}\n"
        "render: {chunk_seconds: 1}\n"
        "tracks:\n  - id: t1\n    preset: pulse\n"
    )
    return config


@pytest.fixture
def album_config(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return _album(tmp_path, tiny_model_dir)


def _meta(config: Path, root: str = "renders") -> dict:
    (meta,) = (config.parent / root).glob("*/meta.json")
    return json.loads(meta.read_text())


def test_album_render_outputs_and_determinism(album_config):
    assert album_main(["--config", str(album_config)]) == 0
    meta = _meta(album_config)
    run_dir = Path(meta["album"]).parent
    assert meta["model"]["provider"] == "CPUExecutionProvider"
    assert set(meta["versions"]) >= {"torch", "onnxruntime", "numpy", "librosa", "ffmpeg"}
    for track in meta["tracks"]:
        assert track["ok"] and track["frames"] == 3 * FPS and len(track["chunks"]) == 3
        assert track["sync_error_ms"] <= 5.0
        assert len(track["chunks"][0]["frame_hashes"]) == FPS
        probe = probe_media(track["output"])
        assert (probe["width"], probe["height"], probe["frames"]) == (128, 72, 3 * FPS)
        assert abs(probe["video_duration"] - probe["audio_duration"]) <= 0.005
        assert (
            Path(track["previews"]["thumbnail"]).is_file()
            and Path(track["previews"]["gif"]).is_file()
        )
        assert "onset_pearson" in track["reactivity"]
    assert meta["tracks"][1]["preset"] == "pulse"
    album = probe_media(meta["album"])
    assert album["frames"] == 6 * FPS and len(album["chapters"]) == 2
    assert abs(album["audio_duration"] - 6.0) < 0.03
    assert not (run_dir / "segments").exists()  # intermediates cleaned up on success
    # Same config, another output root → identical frames.
    assert (
        album_main(["--config", str(album_config), "--output-root", "again", "--tracks", "t0"]) == 0
    )
    again = _meta(album_config, "again")
    assert [c["chunk_hash"] for c in again["tracks"][0]["chunks"]] == [
        c["chunk_hash"] for c in meta["tracks"][0]["chunks"]
    ]


def test_resume_after_sigkill_gives_the_same_frames(album_config):
    # Reference: an uninterrupted render of one track.
    assert (
        track_main(
            [
                "--config",
                str(album_config),
                "--track",
                "t1",
                "--output-root",
                "ref",
                "--keep-frames",
            ]
        )
        == 0
    )
    reference = _meta(album_config, "ref")["tracks"][0]["chunks"]
    argv = [sys.executable, "-m", "renderer.render_track", "--config", str(album_config),
            "--track", "t1", "--output-root", "killed"]  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=album_config.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    manifest = None
    while time.time() < deadline:
        found = list((album_config.parent / "killed").glob("*/manifest.json"))
        if found:
            data = json.loads(found[0].read_text())
            if len(data["tracks"].get("t1", {}).get("chunks", {})) >= 1:
                manifest = found[0]
                break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert manifest is not None, "the render never finished a chunk"
    finished = len(json.loads(manifest.read_text())["tracks"]["t1"]["chunks"])
    assert finished < 3 or True  # it may have raced to the end; resume must still verify
    code = track_main(
        ["--config", str(album_config), "--track", "t1", "--output-root", "killed", "--resume"]
    )
    assert code == 0
    resumed = _meta(album_config, "killed")["tracks"][0]
    assert resumed["chunks_skipped"] >= 1  # finished chunks were not redone
    assert resumed["chunks_skipped"] + resumed["chunks_rendered"] == 3
    assert [c["frame_hashes"] for c in resumed["chunks"]] == [c["frame_hashes"] for c in reference]
    assert not list(manifest.parent.glob("**/*.partial*"))


def test_broken_track_is_reported_and_the_rest_renders(album_config):
    (album_config.parent / "album" / "t0.wav").write_bytes(b"RIFF\x00\x00not really audio")
    assert album_main(["--config", str(album_config)]) == 1
    meta = _meta(album_config)
    bad, good = meta["tracks"]
    assert not bad["ok"] and "t0.wav" in bad["error"]
    assert good["ok"] and Path(good["output"]).is_file()
    assert meta["album"] is not None  # the film carries the tracks that rendered


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda root: (root / "album" / "tracklist.json").write_text(
                json.dumps([{"id": "x", "src": "../outside.wav"}])
            ),
            "outside",
        ),
        (lambda root: (root / "render.yaml").write_text("controller: {preset: nope}\n"), "nope"),
        (lambda root: (root / "models" / "generator.fp32.onnx").write_bytes(b"tampered"), "sha256"),
        (lambda root: (root / "render.yaml").write_text("frame_rate: 500\n"), "frame_rate"),
    ],
)
def test_bad_inputs_give_clear_errors(album_config, capsys, mutate, message):
    mutate(album_config.parent)
    assert album_main(["--config", str(album_config)]) == 2
    assert message in capsys.readouterr().err.replace("\n", "")
    assert not list((album_config.parent / "renders").glob("*/*.mp4"))


def test_dry_run_renders_nothing(album_config, capsys):
    assert album_main(["--config", str(album_config), "--dry-run"]) == 0
    assert "t1" in capsys.readouterr().err
    assert not (album_config.parent / "renders").exists()


def test_missing_ffmpeg_is_reported(album_config, capsys):
    with open(album_config, "a") as fh:
        fh.write("encode: {ffmpeg_path: /nonexistent/ffmpeg}\n")
    assert album_main(["--config", str(album_config)]) == 2
    assert "ffmpeg" in capsys.readouterr().err.lower()
