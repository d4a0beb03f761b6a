"""Terminal and CLI manners of every ``nts-*`` renderer command: ``--version``, help on every flag,
one output flag (``-o/--output``), ``-q``/``-v``, an album progress that counts the whole album
from the start (plain lines when stderr is not a terminal), tables readable at 80 columns and a
clear error for a binary or non-UTF-8 ``--config``."""

from __future__ import annotations

import argparse
import importlib
import io
import re
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import soundfile as sf
from render_fixtures import FPS, make_album
from rich.console import Console

from renderer import __version__
from renderer import console as console_mod
from renderer.config.models import RenderConfig
from renderer.config.tracklist import TrackSpec, resolve_track
from renderer.console import AlbumProgress, RunConsole, clock_text
from renderer.render_album import main as album_main
from renderer.run import summary
from renderer.run.records import TrackResult

REPO = Path(__file__).resolve().parents[1]
INTERNAL = {"--e2e-only"}  # nts-profile calls itself with it (its OMP_WAIT_POLICY child run)
OUTPUT_FLAGS = {"nts-render-album", "nts-render-track", "nts-analyze", "nts-profile",
                "nts-explore"}  # fmt: skip


def _renderer_commands() -> dict[str, str]:
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    return {name: target for name, target in scripts.items() if target.startswith("renderer.")}


class _Parsed(Exception):
    pass


def _parser_of(target: str) -> argparse.ArgumentParser:
    """The parser a command's ``main`` builds (caught at ``parse_args``)."""
    module, func = target.split(":")
    main = getattr(importlib.import_module(module), func)
    seen: dict[str, argparse.ArgumentParser] = {}

    def grab(self, args=None, namespace=None):
        seen["parser"] = self
        raise _Parsed

    with mock.patch.object(argparse.ArgumentParser, "parse_args", grab), pytest.raises(_Parsed):
        main([])
    return seen["parser"]


def test_the_renderer_commands_are_all_here():
    assert set(_renderer_commands()) == {"nts-render-album", "nts-render-track", "nts-analyze",
                                         "nts-profile", "nts-init", "nts-explore"}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_renderer_commands()))
def test_version_and_help_on_every_flag(name, capsys):
    parser = _parser_of(_renderer_commands()[name])
    assert parser.prog == name
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"{name} {__version__}"
    for action in parser._actions:
        if action.help == argparse.SUPPRESS and not INTERNAL & set(action.option_strings):
            # a hidden old spelling of a documented flag
            assert any(a.dest == action.dest and a.help not in (None, argparse.SUPPRESS)
                       for a in parser._actions if a is not action), action.option_strings  # fmt: skip
        elif action.help != argparse.SUPPRESS:
            assert action.help and action.help.strip(), f"{name}: {action.option_strings}"
    if name in OUTPUT_FLAGS:
        (out,) = [a for a in parser._actions if "--output" in a.option_strings]
        assert out.option_strings == ["-o", "--output"]
        hidden = [a for a in parser._actions if a.dest == out.dest and a is not out]
        for old in hidden:  # the old spelling still works, and says the same
            value = "somewhere"
            argv = [*_required(name), old.option_strings[0], value]
            assert getattr(parser.parse_args(argv), out.dest) in (value, Path(value))
            assert not re.search(rf"{old.option_strings[0]}(?![\w-])", parser.format_help())


def _required(name: str) -> list[str]:
    return ["song.wav"] if name == "nts-analyze" else []


def test_quiet_and_verbose_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as stop:
        album_main(["-q", "-v", "--dry-run"])
    assert stop.value.code == 2 and "not allowed with" in capsys.readouterr().err


# ------------------------------------------------------------------------------ progress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _plain(verbosity: int = 0) -> tuple[RunConsole, io.StringIO]:
    buf = io.StringIO()
    return RunConsole(file=buf, width=80, verbosity=verbosity, force_terminal=False), buf


LINE = re.compile(r"^(\S+): (\d+)/(\d+) frames +(\d+)%  ([\d.]+) fps  elapsed (\S+)  ETA (\S+)$")


def test_plain_progress_counts_the_whole_album_every_few_seconds():
    console, buf = _plain()
    clock = _Clock()
    with AlbumProgress(console, estimates={"a": 100, "b": 100}, every=5.0, clock=clock) as p:
        p.start("a", 100)
        for _ in range(10):
            clock.now += 1.0
            p.advance(10)
        p.finish("a")
        p.start("b", 120)  # exact count once decoded
        for _ in range(12):
            clock.now += 1.0
            p.advance(10)
        p.finish("b")
    lines = [LINE.match(line) for line in buf.getvalue().splitlines()]
    assert all(lines), buf.getvalue()
    totals = [int(m[3]) for m in lines]
    done = [int(m[2]) for m in lines]
    assert totals[0] == 200 and totals[-1] == 220  # the album from the first line on
    assert done == sorted(done) and done[-1] == 220 and lines[-1][4] == "100"
    assert len(lines) == 5  # 22 s of rendering, a line every 5 s, then the final count once
    assert [m[1] for m in lines][:2] == ["a", "a"] and lines[-1][1] == "b"
    first = lines[0]
    assert first[2] == "50" and first[5] == "10.0" and first[6] == "0:00:05"
    assert first[7] == "0:00:15"  # 150 frames left at 10 fps


def test_a_failed_track_leaves_the_total_and_the_bar_ends_full():
    console, buf = _plain()
    clock = _Clock()
    with AlbumProgress(console, estimates={"a": 50, "b": None, "c": 50}, every=0.0,
                       clock=clock) as p:  # fmt: skip
        assert p.total == 100  # b's header gave no duration: counted once it is read
        p.start("a", 50)
        clock.now = 1.0
        p.advance(20)
        p.finish("a")  # failed after 20 frames
        assert p.total == 70
        p.start("b", 30)
        p.advance(30)
        p.finish("b")
        p.finish("c")  # failed before it started
    assert (p.completed, p.total) == (50, 50)
    assert buf.getvalue().splitlines()[-1].split()[1] == "50/50"


def test_quiet_prints_no_progress_and_a_terminal_gets_a_bar():
    console, buf = _plain(verbosity=-1)
    with AlbumProgress(console, estimates={"a": 10}, every=0.0) as p:
        p.start("a", 10)
        p.advance(10)
    assert buf.getvalue() == ""
    tty = io.StringIO()
    bar_console = RunConsole(file=tty, width=80, force_terminal=True, color_system=None)
    with AlbumProgress(bar_console, estimates={"a": 10, "b": 10}) as p:
        p.start("a", 10)
        p.advance(10)
    assert "10/20" in tty.getvalue() and "fps" in tty.getvalue()


def test_clock_text():
    assert clock_text(3725.4) == "1:02:05" and clock_text(None) == "-:--:--"
    assert clock_text(float("inf")) == "-:--:--"


@pytest.fixture
def album_config(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_album(tmp_path, tiny_model_dir, seconds=1.0)


def test_album_run_off_a_terminal_prints_whole_album_lines(album_config, capsys, monkeypatch):
    monkeypatch.setattr(console_mod, "PLAIN_EVERY_S", 0.0)  # a line per batch of frames
    assert album_main(["--config", str(album_config), "-o", "normal"]) == 0
    err = capsys.readouterr().err
    lines = [m for line in err.splitlines() if (m := LINE.match(line))]
    assert len(lines) >= 2
    assert {int(m[3]) for m in lines} == {2 * FPS}  # both tracks from the very first line
    assert int(lines[-1][2]) == 2 * FPS and [m[1] for m in lines][-1] == "t1"
    assert "render summary" in err and "plan —" not in err

    # the same run again (finished tracks reused from the manifest), quiet, then verbose
    assert album_main(["--config", str(album_config), "-o", "normal", "--resume", "-q"]) == 0
    err = capsys.readouterr().err
    assert not any(LINE.match(line) for line in err.splitlines())
    assert "render summary" not in err and "model " not in err
    assert "run folder:" in err and "album film:" in err and "t0.mp4" in err

    assert album_main(["--config", str(album_config), "-o", "normal", "--resume", "-v"]) == 0
    err = capsys.readouterr().err
    assert "plan —" in err and "Nothing rendered" not in err
    assert re.search(rf"t1: {FPS} frames in \d+ s -> \S+t1\.mp4", err)


# ------------------------------------------------------------------------------ 80 columns


def _results() -> list[TrackResult]:
    long_id = "a-rather-long-track-id-that-takes-most-of-the-sixty-four-chars"
    good = TrackResult(id=long_id, title="A Rather Long Title: Live at the Forum (Remastered)",
                       ok=True, output=f"/renders/run-x/{long_id}.mp4", frames=18000,
                       duration=600.0, seconds=1234.0, chunks_rendered=55, chunks_skipped=5,
                       sync_error_ms=0.0, reactivity={"onset_pearson": 0.33,
                                                      "beat_accent_rate": 0.95})  # fmt: skip
    bad = TrackResult(id="closing", ok=False, frames=0, seconds=1.0,
                      error="/music/closing.flac: FFmpeg cannot read this file: Invalid data "
                            "found when processing input (the whole message, kept)")  # fmt: skip
    return [good, bad]


def _at_80() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=80, force_terminal=True, color_system=None), buf


def test_summary_fits_80_columns_and_loses_nothing(tmp_path):
    console, buf = _at_80()
    results = _results()
    summary.print_summary(console, results, run_dir=tmp_path / "run-x", album=None,
                          seconds=1300.0, provider="cpu")  # fmt: skip
    text = buf.getvalue()
    table = [line for line in text.splitlines() if line[:1] in "┏┃┡│└"]
    assert table and max(len(line) for line in table) <= 80
    assert "…" not in text  # no cell cut short
    for cell in ("600.0 s", "1234 s", "14.6", "55+5", "0.33", "95%", "failed"):
        assert cell in "\n".join(table), cell
    rest = "\n".join(line for line in text.splitlines() if line not in table)
    assert f"{results[0].id}: {results[0].id}.mp4" in rest  # whole, on their own lines
    assert f"failed closing: {results[1].error}" in rest
    assert f"run folder: {tmp_path / 'run-x'}" in rest


def test_plan_fits_80_columns(tmp_path):
    wav = tmp_path / ("deep/" * 6) / "a-song-with-a-long-file-name.wav"
    wav.parent.mkdir(parents=True)
    sf.write(str(wav), np.zeros((22050 * 2, 1)), 22050)
    config = RenderConfig()
    plan = resolve_track(config, TrackSpec(id="song", src=wav))
    console, buf = _at_80()
    summary.print_plan(console, config=config, plans=[plan], run_dir=tmp_path / "run-x")
    text = buf.getvalue()
    assert max(len(line) for line in text.splitlines() if line[:1] in "┏┃┡│└") <= 80
    assert "…" not in text and "60" in text  # 2 s at 30 fps
    joined = "".join(line.split("│")[2].strip() for line in text.splitlines()
                     if line.startswith("│"))  # the src column  # fmt: skip
    assert str(wav) in joined  # the path folds inside its cell, whole


# ------------------------------------------------------------------------------ bad configs


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (bytes(range(256)) * 4, "a binary file"),
        ((REPO / "models" / "samples.png").read_bytes()[:4096], "a binary file"),
        ("frame_rate: 30\n".encode("utf-16"), "a binary file"),
        (b"seed: 1\ntitle: caf\xe9\n", "not UTF-8 text"),
        (None, "is a folder"),
    ],
)
def test_binary_or_non_utf8_config_is_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "render.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    assert album_main(["--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err.replace("\n", "") and message in err and "Traceback" not in err
    assert len(err) < 600
