"""``python -m renderer.analyze`` writes JSON, PNGs and an offline HTML report."""

from __future__ import annotations

import json
import re

from audio_fixtures import click_track, triad, write_wav

from renderer.analyze import main


def test_cli_writes_reports_and_reports_bad_files(tmp_path):
    clicks, _ = click_track(110.0, 10.0)
    y = clicks + triad("F#", True, 10.0)[: len(clicks)]
    good = write_wav(tmp_path / "song.wav", y)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"")
    out = tmp_path / "out"
    code = main([str(good), str(bad), "--out", str(out), "--cache", str(tmp_path / "cache")])
    assert code == 1  # the broken file is reported, the good one still analysed
    folder = out / "song"
    data = json.loads((folder / "analysis.json").read_text())
    assert abs(data["tempo"] - 110.0) < 2.2 and data["beats"]
    for name in ("timeline.png", "chords.png", "tempo.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (folder / "report.html").read_text()
    assert "Plotly" in page and not re.search(r"<script[^>]+src=", page)
    assert main([str(good), "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0


def test_report_helpers():
    import numpy as np

    from renderer.analysis.report import _smooth, chord_colour, tempo_curve

    assert chord_colour("N") == (0.8, 0.8, 0.8)
    assert chord_colour("Am") != chord_colour("A") and chord_colour("C#") == chord_colour("Db")
    assert all(0.0 <= c <= 1.0 for c in chord_colour("F#m"))
    x = np.arange(3.0)
    np.testing.assert_array_equal(_smooth(x, 5), x)  # shorter than the window: unchanged
    onset = np.zeros(2000)
    onset[::43] = 1.0  # one pulse per 43 frames at 86.13 frames/s → 120.2 bpm
    bpm, strength = tempo_curve(onset, frame_rate=22050 / 256)
    assert bpm.min() >= 40 and bpm.max() <= 240
    assert abs(bpm[np.argmax(strength)] - 120.2) < 1.0
