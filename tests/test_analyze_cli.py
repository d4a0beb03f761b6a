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


def test_report_draws_one_band_per_section_and_every_beat():
    """The bands used to be added before any trace existed, and plotly dropped them."""
    import numpy as np

    from renderer.analysis import Analysis, Segment
    from renderer.analysis.report import report_figure
    from renderer.audio.features import Features

    n, rng = 200, np.random.default_rng(0)
    features = Features(source="x.wav", sha256="", sample_rate=22050, hop_length=512,
                        duration=n * 512 / 22050, **{k: rng.random(n) for k in
                        ("rms", "centroid", "flatness", "onset", "harmonic", "percussive")},
                        mfcc=rng.random((n, 8)), chroma=rng.random((n, 12)))  # fmt: skip
    sections = [Segment(0.0, 1.5, "intro (A)"), Segment(1.5, 3.0, "drop (B)"),
                Segment(3.0, 4.6, "outro (A)")]  # fmt: skip
    analysis = Analysis(duration=4.6, tempo=120.0, beats=np.arange(0.0, 4.5, 0.5),
                        downbeats=np.arange(0.0, 4.5, 2.0), key="C", key_confidence=0.5,
                        sections=sections)  # fmt: skip
    fig = report_figure(analysis, features)
    bands = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(b.x0, b.x1) for b in bands] == [(s.start, s.end) for s in sections]
    beats = next(t for t in fig.data if t.name == "beats")
    assert len(beats.x) == 9


def test_cli_beat_tracker_flag(tmp_path, monkeypatch, capsys):
    import sys

    clicks, _ = click_track(100.0, 6.0)
    song = write_wav(tmp_path / "song.wav", clicks + triad("C", False, 6.0)[: len(clicks)])
    out, cache = tmp_path / "out", str(tmp_path / "cache")
    assert main([str(song), "--out", str(out), "--cache", cache, "--beat-tracker", "ours"]) == 0
    data = json.loads((out / "song" / "analysis.json").read_text())
    assert data["beat_tracker"] == "ours" and "MIT" in data["beat_tracker_licence"]
    monkeypatch.setitem(sys.modules, "madmom", None)  # the [madmom] extra is not installed
    assert main([str(song), "--out", str(out), "--cache", cache, "--beat-tracker", "madmom"]) == 1
    captured = capsys.readouterr()
    assert "analysis.beat_tracker" in (captured.out + captured.err).replace("\n", "")
