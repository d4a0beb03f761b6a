"""Odd but legitimate input renders; broken input fails with a message naming the file, and leaves
no partial file behind. Every case goes through the real CLI on real files."""

from __future__ import annotations

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
