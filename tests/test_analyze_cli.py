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
    for name in ("timeline.png", "chords.png"):
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (folder / "report.html").read_text()
    assert "Plotly" in page and not re.search(r"<script[^>]+src=", page)
    assert main([str(good), "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
