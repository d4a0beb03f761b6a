"""FFmpeg discovery: explicit path, PATH, bundled wheel, and the version floor."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from renderer.encode import ffmpeg_bin
from renderer.errors import FFmpegError


def _fake_ffmpeg(tmp_path: Path, banner: str, name: str = "ffmpeg") -> Path:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\necho '{banner}'\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.fixture(autouse=True)
def _clear_cache():
    ffmpeg_bin.find_ffmpeg.cache_clear()
    yield
    ffmpeg_bin.find_ffmpeg.cache_clear()


def test_bundled_ffmpeg_is_found_and_new_enough():
    path = ffmpeg_bin.find_ffmpeg()
    assert Path(path).is_file()
    major, _ = ffmpeg_bin.ffmpeg_version(path)
    assert major >= ffmpeg_bin.MIN_MAJOR


def test_explicit_old_ffmpeg_is_rejected_with_version(tmp_path):
    old = _fake_ffmpeg(tmp_path, "ffmpeg version 5.1.6-0+deb12u1 Copyright")
    with pytest.raises(FFmpegError, match=r"version 5\.1.*needs FFmpeg ≥ 6"):
        ffmpeg_bin.find_ffmpeg(str(old))


def test_explicit_missing_path_is_named(tmp_path):
    with pytest.raises(FFmpegError, match="does not exist"):
        ffmpeg_bin.find_ffmpeg(str(tmp_path / "nope"))


def test_explicit_new_ffmpeg_and_git_build_are_accepted(tmp_path):
    new = _fake_ffmpeg(tmp_path, "ffmpeg version 7.1 Copyright", "ff7")
    assert ffmpeg_bin.find_ffmpeg(str(new)) == str(new)
    git = _fake_ffmpeg(tmp_path, "ffmpeg version N-112233-gabc Copyright", "ffgit")
    assert ffmpeg_bin.ffmpeg_version(git) == (0, 0)
    assert ffmpeg_bin.find_ffmpeg(str(git)) == str(git)


def test_not_ffmpeg_is_reported(tmp_path):
    other = _fake_ffmpeg(tmp_path, "hello world", "other")
    with pytest.raises(FFmpegError, match="does not look like FFmpeg"):
        ffmpeg_bin.ffmpeg_version(other)


def test_unrunnable_binary_is_reported(tmp_path):
    path = tmp_path / "noexec"
    path.write_text("x")
    with pytest.raises(FFmpegError, match="cannot run"):
        ffmpeg_bin.ffmpeg_version(path)


def test_old_ffmpeg_on_path_falls_back_to_bundled(tmp_path, monkeypatch):
    _fake_ffmpeg(tmp_path, "ffmpeg version 5.1.6 Copyright")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    found = ffmpeg_bin.find_ffmpeg()
    assert Path(found).parent != tmp_path


def test_new_ffmpeg_on_path_is_preferred(tmp_path, monkeypatch):
    fake = _fake_ffmpeg(tmp_path, "ffmpeg version 6.1 Copyright")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert ffmpeg_bin.find_ffmpeg() == str(fake)


def test_only_old_ffmpeg_anywhere_raises(tmp_path, monkeypatch):
    _fake_ffmpeg(tmp_path, "ffmpeg version 4.4 Copyright")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(ffmpeg_bin, "_bundled", lambda: None)
    with pytest.raises(FFmpegError, match="version 4.4"):
        ffmpeg_bin.find_ffmpeg()


def test_no_ffmpeg_anywhere_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(ffmpeg_bin, "_bundled", lambda: None)
    with pytest.raises(FFmpegError, match="no FFmpeg found"):
        ffmpeg_bin.find_ffmpeg()
