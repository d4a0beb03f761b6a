"""One track through the real pipeline (tiny ONNX model, real FFmpeg): determinism of frames and
segment bytes, resume after a real SIGKILL, debug frames and the webm copy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from render_fixtures import FPS, make_album, read_meta

from renderer.encode.media import probe_media
from renderer.render_track import main as track_main

SECONDS = 4.0
N_CHUNKS = 4


@pytest.fixture(scope="module")
def album(tmp_path_factory, tiny_model_dir) -> Path:
    return make_album(tmp_path_factory.mktemp("track"), tiny_model_dir, seconds=SECONDS)


@pytest.fixture(scope="module")
def reference(album) -> dict:
    """An uninterrupted render of t1, segments kept."""
    argv = ["--config", str(album), "--track", "t1", "--output-root", "ref", "--keep-frames"]
    assert track_main(argv) == 0
    return read_meta(album, "ref")["tracks"][0]


def test_reference_render_is_complete(reference):
    assert reference["ok"] and reference["frames"] == SECONDS * FPS
    assert [(c["start"], c["stop"]) for c in reference["chunks"]] == [
        (i * FPS, (i + 1) * FPS) for i in range(N_CHUNKS)
    ]
    assert all(len(c["frame_hashes"]) == FPS for c in reference["chunks"])
    assert reference["sync_error_ms"] <= 5.0
    assert Path(reference["output"]).suffix == ".mp4"


def test_two_renders_give_identical_frames_and_segment_bytes(album, reference):
    argv = ["--config", str(album), "--track", "t1", "--output-root", "again", "--debug-frames",
            "--keep-frames"]  # fmt: skip
    assert track_main(argv) == 0
    again = read_meta(album, "again")["tracks"][0]
    assert [c["frame_hashes"] for c in again["chunks"]] == [
        c["frame_hashes"] for c in reference["chunks"]
    ]
    # bitexact x264 with fixed threads: the encoded segments repeat byte for byte too
    assert [c["segment_sha256"] for c in again["chunks"]] == [
        c["segment_sha256"] for c in reference["chunks"]
    ]
    frames = sorted((album.parent / "again").glob("*/frames/t1/*.png"))
    assert len(frames) == SECONDS * FPS  # --debug-frames wrote every frame
    assert len(list((album.parent / "again").glob("*/segments/t1/0000.mp4"))) == 1  # kept


def test_resume_after_sigkill_gives_the_same_frames_without_redoing_chunks(album, reference):
    argv = [sys.executable, str(Path(__file__).parents[1] / "renderer" / "render_track.py"),
            "--config", str(album), "--track", "t1", "--output-root", "killed", "--keep-frames"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = None
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            found = list((album.parent / "killed").glob("*/manifest.json"))
            if found:
                chunks = json.loads(found[0].read_text())["tracks"].get("t1", {}).get("chunks", {})
                if chunks:
                    manifest = found[0]
                    break
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert manifest is not None, "the render never finished a chunk"
    before = json.loads(manifest.read_text())["tracks"]["t1"]["chunks"]
    mtimes = {i: (manifest.parent / c["segment"]).stat().st_mtime_ns for i, c in before.items()}
    assert len(before) < N_CHUNKS, "killed too late to test resume"

    argv = ["--config", str(album), "--track", "t1", "--output-root", "killed", "--resume",
            "--keep-frames"]  # fmt: skip
    assert track_main(argv) == 0
    resumed = read_meta(album, "killed")["tracks"][0]
    assert resumed["chunks_skipped"] == len(before)  # every finished chunk was reused …
    assert resumed["chunks_rendered"] == N_CHUNKS - len(before)  # … and only the rest rendered
    for i, c in before.items():  # … and their segments were not rewritten
        assert (manifest.parent / c["segment"]).stat().st_mtime_ns == mtimes[i]
    assert [c["frame_hashes"] for c in resumed["chunks"]] == [
        c["frame_hashes"] for c in reference["chunks"]
    ]
    assert not list(manifest.parent.glob("**/*.partial*"))
    probe = probe_media(resumed["output"])
    assert probe["frames"] == SECONDS * FPS
    # previews are complete too: frames of skipped chunks come from their finished segments
    names = [Path(p).name for p in resumed["previews"]["keyframes"]]
    assert names == [Path(p).name for p in reference["previews"]["keyframes"]]
    assert all(Path(p).is_file() for p in resumed["previews"]["keyframes"])
    gif, ref_gif = Image.open(resumed["previews"]["gif"]), Image.open(reference["previews"]["gif"])
    assert gif.n_frames == ref_gif.n_frames


def test_resume_recomputes_a_tampered_segment(album, reference):
    run_dir = Path(reference["output"]).parent
    segment = run_dir / "segments" / "t1" / "0001.mp4"
    segment.write_bytes(segment.read_bytes()[:-10])  # truncated: hash no longer matches
    Path(reference["output"]).unlink()  # the track is unfinished (an intact one is reused whole)
    argv = ["--config", str(album), "--track", "t1", "--output-root", "ref", "--resume",
            "--keep-frames"]  # fmt: skip
    assert track_main(argv) == 0
    again = read_meta(album, "ref")["tracks"][0]
    assert (again["chunks_skipped"], again["chunks_rendered"]) == (N_CHUNKS - 1, 1)
    assert [c["frame_hashes"] for c in again["chunks"]] == [
        c["frame_hashes"] for c in reference["chunks"]
    ]


def test_webm_copy_and_unknown_track(album, capsys):
    webm_config = album.with_name("webm.yaml")
    webm_config.write_text(album.read_text() + "encode: {webm: true}\n")
    argv = ["--config", str(webm_config), "--track", "t0", "--output-root", "webm"]
    assert track_main(argv) == 0
    track = read_meta(webm_config, "webm")["tracks"][0]
    probe = probe_media(track["webm"])
    assert probe["frames"] == SECONDS * FPS
    assert abs(probe["video_duration"] - probe["audio_duration"]) <= 0.03
    assert not list((album.parent / "webm").glob("*/segments"))  # cleaned after success
    assert track_main(["--config", str(album), "--track", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
