"""Odd but legitimate input renders; broken input fails with a message naming the file, and leaves
no partial file behind. Every case goes through the real CLI on real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from render_fixtures import FPS, make_album, read_meta

from renderer.render_album import main as album_main


@pytest.fixture
def album_config(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_album(tmp_path, tiny_model_dir)


def _no_partials(root: Path) -> None:
    assert not [p for p in root.rglob("*") if ".partial" in p.name]


def test_music_without_a_beat_renders_with_low_tempo_confidence(album_config):
    """A steady 440 Hz sine (stereo, 22.05 kHz) and a mono tone at 8 kHz: no beat is invented."""
    album = album_config.parent / "album"
    t = np.arange(5 * 22050) / 22050
    sine = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(str(album / "t0.wav"), np.stack([sine, sine]).T, 22050)
    t8 = np.arange(5 * 8000) / 8000
    sf.write(str(album / "t1.wav"), 0.5 * np.sin(2 * np.pi * 440 * t8), 8000)
    assert album_main(["--config", str(album_config)]) == 0
    meta = read_meta(album_config)
    for track in meta["tracks"]:
        assert track["ok"] and track["frames"] == 5 * FPS
        analysis = track["analysis"]
        assert analysis["beats"] == 0 and analysis["tempo_confidence"] < 0.15
        assert 60.0 <= analysis["tempo"] <= 200.0
    _no_partials(album_config.parent)


def test_tempo_stays_in_its_documented_range_on_tones():
    from renderer.analysis.core import analyze_signal

    for seconds in (5, 10, 30):
        t = np.arange(seconds * 22050) / 22050
        result = analyze_signal(0.5 * np.sin(2 * np.pi * 440 * t))
        assert 60.0 <= result.tempo <= 200.0 and len(result.beats) == 0
        assert result.tempo_confidence < 0.15


def _mp3(path: Path, seconds: float) -> bytes:
    import subprocess

    from renderer.encode.ffmpeg_bin import find_ffmpeg

    subprocess.run([find_ffmpeg(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=f=440:d={seconds}", "-ac", "2", "-b:a", "128k", str(path)],
                   check=True, stdin=subprocess.DEVNULL)  # fmt: skip
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["middle", "truncated"])
def test_damaged_mp3_fails_instead_of_rendering_a_short_video(album_config, damage, capsys):
    """A damaged middle made libsndfile stop early (7.5 s of 30 s) and a short video came out with
    exit 0; now the file is decoded to its end or the track fails naming the file."""
    album = album_config.parent / "album"
    data = bytearray(_mp3(album / "t0.mp3", 12.0))
    n = len(data)
    if damage == "middle":  # repeated fake frame headers: libmpg123 gives up resyncing
        junk = bytes([0xFF, 0xFB, 0x90, 0x00]) * 2000
        data[n // 4 : n // 4 + len(junk)] = junk
    else:
        data = data[: n // 2]
    (album / "t0.mp3").write_bytes(bytes(data))
    tracks = json.loads((album / "tracklist.json").read_text())
    tracks[0]["src"] = "t0.mp3"
    (album / "tracklist.json").write_text(json.dumps(tracks))
    assert album_main(["--config", str(album_config)]) == 1
    bad, good = read_meta(album_config)["tracks"]
    assert not bad["ok"] and "t0.mp3" in bad["error"] and "damaged" in bad["error"]
    assert "of the 12.0 s its container states" in bad["error"]
    assert good["ok"]
    run_dir = next((album_config.parent / "renders").iterdir())
    assert not (run_dir / "t0.mp4").exists()
    _no_partials(album_config.parent)


def test_resuming_a_finished_run_is_a_no_op(album_config):
    """Segments are removed after the mux; a finished run resumed used to re-render every chunk."""
    assert album_main(["--config", str(album_config)]) == 0
    first = read_meta(album_config)
    run_dir = Path(first["album"]).parent
    outputs = sorted(run_dir.glob("*.mp4"))
    stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in outputs}
    assert album_main(["--config", str(album_config), "--resume"]) == 0
    again = read_meta(album_config)
    for track in again["tracks"]:
        assert track["chunks_rendered"] == 0 and track["chunks_skipped"] == 3
        assert track["ok"] and track["reactivity"]
    assert again["album"] == first["album"]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in outputs} == stamps  # untouched
    assert not (run_dir / "audio").exists() and not (run_dir / "segments").exists()

    # A damaged output is re-rendered (same bytes as before); the intact track is reused.
    (run_dir / "t0.mp4").write_bytes(b"damaged")
    assert album_main(["--config", str(album_config), "--resume"]) == 0
    third = read_meta(album_config)
    assert [t["chunks_rendered"] for t in third["tracks"]] == [3, 0]
    assert (run_dir / "t0.mp4").read_bytes() == stamps[run_dir / "t0.mp4"][1]
    assert (run_dir / "album.mp4").read_bytes() == stamps[run_dir / "album.mp4"][1]
    _no_partials(album_config.parent)


ALIAS_BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x]"]
    + [
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    + ["controller: *i"]
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (ALIAS_BOMB, "aliases are expanded"),
        ("seed: 1\n" + "# padding\n" * 200_000, "limited to 1,048,576 bytes"),
        ("controller:\n  preset: " + "x" * 100_000 + "\n", "controller.preset"),
    ],
    ids=["alias-bomb", "oversized", "huge-value"],
)
def test_hostile_configs_fail_fast_with_a_short_message(album_config, capsys, content, message):
    import time

    (album_config.parent / "render.yaml").write_text(content)
    start = time.perf_counter()
    assert album_main(["--config", str(album_config)]) == 2
    assert time.perf_counter() - start < 10
    err = capsys.readouterr().err
    assert message in err and "render.yaml" in err
    assert len(err) < 1200  # never the whole (expanded) input
    assert not (album_config.parent / "renders").exists()


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_corrupt_model_with_a_matching_hash_is_a_clear_error(album_config, capsys, backend):
    """Tampered bytes *and* a re-hashed meta.json: the load itself fails, with exit 2."""
    from renderer.decode.model_meta import sha256_file

    models = album_config.parent / "models"
    name = {"torch": "generator.safetensors", "onnx": "generator.fp32.onnx"}[backend]
    data = bytearray((models / name).read_bytes())
    data[8:64] = b"\x00" * 56  # the header (safetensors) / graph (onnx) is garbage now
    (models / name).write_bytes(bytes(data))
    meta = json.loads((models / "meta.json").read_text())
    kind = {"torch": "safetensors", "onnx": "onnx"}[backend]
    meta["artefacts"][kind]["sha256"] = sha256_file(models / name)
    (models / "meta.json").write_text(json.dumps(meta))
    assert album_main(["--config", str(album_config), "--backend", backend]) == 2
    err = capsys.readouterr().err
    assert name in err and "Traceback" not in err
    _no_partials(album_config.parent)


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs of a given size (root only: skipped where mounting is not allowed)."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()

    def make(size: str) -> Path:
        cmd = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)]
        if subprocess.run(cmd, capture_output=True, stdin=subprocess.DEVNULL).returncode:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        return mount

    yield make
    subprocess.run(["umount", str(mount)], capture_output=True, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("size", ["200k", "1m", "2m", "3m"])
def test_a_full_disk_is_a_clear_error_and_the_run_resumes(album_config, small_disk, capsys, size):
    import subprocess

    disk = small_disk(size)
    argv = ["--config", str(album_config), "--output-root", str(disk / "renders")]
    assert album_main(argv) == 1
    err = capsys.readouterr().err
    assert "no space left on the device" in err and "--resume" in err
    _no_partials(disk)
    project = {"album", "cache", "disk", "models", "render.yaml"}
    assert {p.name for p in album_config.parent.iterdir()} <= project  # nothing written elsewhere
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
    assert album_main([*argv, "--resume"]) == 0
    (run_dir,) = (disk / "renders").iterdir()
    meta = json.loads((run_dir / "meta.json").read_text())
    assert all(t["ok"] for t in meta["tracks"]) and Path(meta["album"]).is_file()
    _no_partials(disk)
