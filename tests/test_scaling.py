"""benchmarks/scaling.py's model and figures (the timed runs themselves are the benchmark), and
which runs overlap their tracks' phases (renderer/run/schedule.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from scaling import parse_args, project, ratio_line  # noqa: E402

from renderer.run.schedule import overlaps  # noqa: E402

INPUTS = {"chunk_s": 2.4, "overhead_s": 0.005, "prepare_per_s": 0.161, "tail_per_s": 0.224,
          "film_per_s": 0.040}  # fmt: skip


def wall(machines: int, *, overlap: bool, **change) -> float:
    return project(**(INPUTS | change), album_s=3600, track_s=300, chunk_seconds=5,
                   machines=machines, overlap=overlap)  # fmt: skip


def test_the_projection_counts_every_serial_part():
    # 12 tracks of 60 chunks on one machine: every chunk, preparation, tail and the film.
    chunks = 12 * 60 * (2.4 + 0.005)
    serial = 12 * (0.161 + 0.224) * 300 + 0.040 * 3600
    assert wall(1, overlap=False) == pytest.approx(chunks + serial)
    # With a pool: per track the longest of chunks, preparation, tail; plus the first
    # preparation, the last tail and the film.
    assert wall(1, overlap=True) == pytest.approx(
        0.161 * 300 + 12 * 60 * 2.405 + 0.224 * 300 + 0.040 * 3600
    )


def test_more_machines_never_take_longer_and_the_driver_bounds_them():
    for overlap in (False, True):
        walls = [wall(n, overlap=overlap) for n in (1, 2, 4, 8, 16, 32)]
        assert walls == sorted(walls, reverse=True)
        assert all(wall(n, overlap=True) <= wall(n, overlap=False) for n in (1, 8))
    # Past the point where chunks are shorter than the tail, machines stop helping.
    assert wall(16, overlap=True) == pytest.approx(wall(32, overlap=True))
    assert wall(32, overlap=True) > 12 * 0.224 * 300


def test_the_ratio_line_names_the_bar():
    runs = [{"executor": "local", "workers": 1, "e2e_fps": 10.0},
            {"executor": "processes", "workers": 2, "e2e_fps": 10.5}]  # fmt: skip
    assert "1.050 (no slower" in ratio_line(runs)
    runs[1]["e2e_fps"] = 9.0
    assert "0.900 (SLOWER" in ratio_line(runs)
    assert "not measured" in ratio_line(runs[:1])


def test_album_mode_compares_local_with_two_workers_by_default():
    assert parse_args(["--album", "3"]).runs == [("local", 1), ("processes", 2)]
    assert ("ray", 2) in parse_args([]).runs
    with pytest.raises(SystemExit):
        parse_args(["--album", "1"])


def test_only_pools_overlap_the_tracks():
    class Executor:
        def __init__(self, pooled: bool) -> None:
            self.pooled = pooled

    assert overlaps({"torch": Executor(True), "cppn": Executor(True)})
    assert not overlaps({"torch": Executor(True), "cppn": Executor(False)})
    assert not overlaps({})
