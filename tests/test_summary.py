"""Tests for renderer/run/summary.py: versions, header durations and the summary/plan tables."""

from __future__ import annotations

import io
import json
import re
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from rich.console import Console

from renderer.config.models import RenderConfig
from renderer.config.tracklist import load_tracklist, resolve_track
from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.run import summary
from renderer.run.records import TrackResult


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=200), buf


def _wav(path: Path, seconds: float, sr: int = 22050) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.2 * np.sin(2 * np.pi * 440 * t)
    sf.write(str(path), np.stack([y, y]).T, sr)
    return path


# ------------------------------------------------------------------------------------ versions


def test_versions_keys_and_values():
    had_ort = "onnxruntime" in sys.modules
    v = summary.versions(ffmpeg_path=None)
    assert set(v) == {
        "noise_to_signal",
        "python",
        "torch",
        "onnxruntime",
        "numpy",
        "librosa",
        "ffmpeg",
        "ffmpeg_path",
        "platform",
    }
    import renderer

    assert v["noise_to_signal"] == renderer.__version__
    assert v["numpy"] == np.__version__
    assert v["python"] == ".".join(map(str, sys.version_info[:3]))
    # ONNX Runtime comes from package metadata (either distribution), without importing it
    expected_ort = "not installed"
    for name in ("onnxruntime-gpu", "onnxruntime"):
        try:
            expected_ort = metadata.version(name)
            break
        except metadata.PackageNotFoundError:
            pass
    assert v["onnxruntime"] == expected_ort
    if not had_ort:
        assert "onnxruntime" not in sys.modules
    # FFmpeg: "major.minor" of the binary that renders would use (≥ 6 is required)
    assert re.fullmatch(r"\d+\.\d+", v["ffmpeg"])
    assert int(v["ffmpeg"].split(".")[0]) >= 6
    assert Path(v["ffmpeg_path"]).is_file()
    json.dumps(v)  # goes into meta.json as is


def test_versions_with_explicit_ffmpeg_path():
    path = find_ffmpeg(None)
    assert summary.versions(ffmpeg_path=path)["ffmpeg_path"] == path


def test_dist_version_falls_back_through_names():
    assert summary._dist_version("no-such-dist-nts", "numpy") == np.__version__
    assert summary._dist_version("no-such-dist-nts") == "not installed"


# ------------------------------------------------------------------------------ audio_duration


def test_audio_duration_from_header(tmp_path):
    assert summary.audio_duration(_wav(tmp_path / "a.wav", 1.5)) == pytest.approx(1.5)
    flac = tmp_path / "b.flac"
    sf.write(str(flac), np.zeros((48000 * 2, 1)), 48000)
    assert summary.audio_duration(flac) == pytest.approx(2.0)


def test_audio_duration_none_for_unreadable(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert summary.audio_duration(garbage) is None
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert summary.audio_duration(empty) is None
    assert summary.audio_duration(tmp_path / "missing.wav") is None


# ------------------------------------------------------------------------------- print_summary


def _results() -> list[TrackResult]:
    good = TrackResult(
        id="opening",
        title="Opening",
        ok=True,
        output="/renders/run-x/opening.mp4",
        frames=300,
        duration=10.0,
        seconds=20.0,
        chunks_rendered=3,
        chunks_skipped=1,
        sync_error_ms=4.26,
        reactivity={"onset_pearson": 0.512, "beat_accent_rate": 0.9},
        warnings=["audio clipped at 0:42"],
    )
    bad = TrackResult(id="closing", ok=False, error="decoder crashed", frames=50, seconds=3.0)
    return [good, bad]


def _row(text: str, track: str) -> str:
    return next(line for line in text.splitlines() if f" {track} " in line)


def test_print_summary_table(tmp_path):
    console, buf = _console()
    run_dir = tmp_path / "run-x"
    summary.print_summary(
        console, _results(), run_dir=run_dir, album=None, seconds=60.0, provider="cpu"
    )
    text = buf.getvalue()
    assert "[green]" not in text and "[red]" not in text  # markup rendered, not printed
    assert f"run folder: {run_dir}" in text
    good = _row(text, "opening")
    for cell in ("ok", "10.0 s", "20 s", "15.0", "3+1"):  # chunks new+old
        assert cell in good
    assert "4.3" in good  # sync ms
    assert "0.51" in good  # onset correlation
    assert "90%" in good  # beats hit
    assert _row(text, "Opening").startswith("│ Opening ")  # the title under its id
    assert "  opening: opening.mp4" in text  # the files below the table
    bad = _row(text, "closing")
    assert "failed" in bad and "failed closing: decoder crashed" in text  # the error in full
    assert bad.count("—") >= 3  # no sync, correlation, beats
    # totals count finished tracks only: 300 frames in 60 s
    assert "album film: —" in text
    assert "total 300 frames in 60 s (5.0 fps) on cpu" in text


def test_print_summary_prints_warnings(tmp_path):
    console, buf = _console()
    results = _results()
    results[1].warnings.append("previews skipped")
    summary.print_summary(
        console, results, run_dir=tmp_path, album=tmp_path / "album.mp4", seconds=1.0, provider="x"
    )
    text = buf.getvalue()
    assert "warning opening: audio clipped at 0:42" in text
    assert "warning closing: previews skipped" in text
    assert f"album film: {tmp_path / 'album.mp4'}" in text


def test_print_summary_without_warnings_prints_none(tmp_path):
    console, buf = _console()
    result = TrackResult(id="solo", ok=True, frames=10, duration=1.0, seconds=1.0)
    summary.print_summary(console, [result], run_dir=tmp_path, album=None, seconds=1, provider="c")
    assert "warning" not in buf.getvalue()


# ---------------------------------------------------------------------------------- print_plan


def _plans(tmp_path: Path):
    album = tmp_path / "album"
    album.mkdir()
    _wav(album / "opening.wav", 12.0)
    _wav(album / "middle.wav", 5.0)
    (album / "broken.wav").write_bytes(b"RIFF not really a wav")
    (album / "tracklist.json").write_text(
        json.dumps(
            [
                {"id": "opening", "src": "opening.wav"},
                {"id": "middle", "src": "middle.wav"},
                {"id": "broken", "src": "broken.wav"},
            ]
        )
    )
    config = RenderConfig.model_validate(
        {
            "frame_rate": 30,
            "resolution": [1280, 720],
            "render": {"chunk_seconds": 2.0},
            "tracks": [
                {"id": "opening", "trim": {"start": 2.0, "end": 8.0}},
                {"id": "middle", "trim": {"start": 1.0, "end": 60.0}},
            ],
        }
    )
    tracks = load_tracklist(album / "tracklist.json", album_root=album)
    return config, [resolve_track(config, t) for t in tracks]


def test_print_plan_table(tmp_path):
    config, plans = _plans(tmp_path)
    console, buf = _console()
    run_dir = tmp_path / "renders" / "run-abc"
    summary.print_plan(console, config=config, plans=plans, run_dir=run_dir)
    text = buf.getvalue()
    assert "1280×720 @ 30 fps, youtube" in text
    # estimate: 10 fps at 1080p scaled by pixel count → 22.5 fps at 720p
    opening = _row(text, "opening")
    assert str(plans[0].seed) in opening and "default" in opening
    for cell in ("6.0 s", " 180 ", "3 × 60", "~8 s"):  # trimmed 2..8 s of 12 s
        assert cell in opening
    middle = _row(text, "middle")  # trim end past the file: 1..5 s
    for cell in ("4.0 s", " 120 ", "2 × 60", "~5 s"):
        assert cell in middle
    broken = _row(text, "broken")
    assert broken.count("?") == 4  # duration, frames, chunks, time unknown
    assert "3 track(s), 300 frames; estimated ~0.2 min at ~22 fps" in text
    assert "Nothing rendered." in text
