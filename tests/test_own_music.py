"""One's own music with no config and no tracklist: tracks from tagged files (real FFmpeg-encoded
MP3 / M4A / Opus with real tags), the bundled defaults and model found from the package, output in
the current folder, ``nts-init`` and the config it writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import click_track, triad

from renderer.config import discover
from renderer.config.discover import discover_tracks, load_run_inputs, natural_key, unique_ids
from renderer.config.loading import (
    PACKAGE_ROOT,
    bundled_model_dir,
    default_config,
    load_config,
)
from renderer.config.models import TRACK_ID
from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.media import probe_media
from renderer.errors import ConfigError
from renderer.init import init_folder
from renderer.init import main as init_main
from renderer.render_album import main as album_main
from renderer.render_track import main as track_main

REPO = Path(__file__).resolve().parents[1]
SECONDS = 2.0
# file name → (format options, title tag, track-number tag): name order c, a, b; tag order a, b, c
TAGGED = {
    "b side.mp3": (["-c:a", "libmp3lame", "-b:a", "96k"], "Second Song", "2"),
    "c.opus": (["-c:a", "libopus", "-b:a", "64k"], "Third: the end!", "3/3"),
    "a.m4a": (["-c:a", "aac", "-b:a", "96k"], "Été à Paris", "1"),
}
TITLES = ["Été à Paris", "Second Song", "Third: the end!"]
IDS = ["ete-a-paris", "second-song", "third-the-end"]
SMALL = ["--resolution", "128x72", "--fps", "24", "--backend", "onnx"]


def _encode(src: Path, out: Path, *, options: list[str], title: str, track: str) -> Path:
    argv = [find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(src), *options,
            "-metadata", f"title={title}", "-metadata", f"track={track}",
            "-metadata", "artist=Test Artist", "-metadata", "album=Test Album", str(out)]  # fmt: skip
    subprocess.run(argv, check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def tagged_folder(tmp_path_factory) -> Path:
    """Three short tagged files (different tempo and key each) in a folder with a space."""
    folder = tmp_path_factory.mktemp("own") / "My Album"
    folder.mkdir()
    work = folder.parent / "wav"
    work.mkdir()
    for i, (name, (options, title, track)) in enumerate(TAGGED.items()):
        y, _ = click_track(100 + 15 * i, SECONDS, sr=22050, seed=i)
        y = y + triad(("A", "C", "E")[i], True, SECONDS)[: len(y)]
        wav = work / f"{i}.wav"
        sf.write(str(wav), np.stack([y, 0.8 * y]).T, 22050)
        _encode(wav, folder / name, options=options, title=title, track=track)
    (folder / "notes.txt").write_text("not audio")  # ignored by its suffix
    return folder


# ------------------------------------------------------------------------------ discovery


def test_tracks_come_in_tag_order_with_titles_and_safe_ids(tagged_folder):
    root, tracks = discover_tracks(tagged_folder)
    assert root == tagged_folder.resolve()
    assert [t.src.name for t in tracks] == ["a.m4a", "b side.mp3", "c.opus"]
    assert [t.title for t in tracks] == TITLES
    assert [t.id for t in tracks] == IDS
    assert all(t.artist == "Test Artist" for t in tracks)
    assert [t.extra["track"] for t in tracks] == [1, 2, 3]  # "3/3" read as 3
    assert all(t.extra["album"] == "Test Album" for t in tracks)


def test_untagged_files_follow_the_natural_order_of_their_names(tmp_path):
    for name in ("track 10.wav", "track 2.wav", "Track 1.flac", ".hidden.wav"):
        sf.write(str(tmp_path / name), np.zeros((2205, 1)), 22050)
    _, tracks = discover_tracks(tmp_path)
    assert [t.src.name for t in tracks] == ["Track 1.flac", "track 2.wav", "track 10.wav"]
    assert [t.id for t in tracks] == ["track-1", "track-2", "track-10"]
    assert [t.title for t in tracks] == ["Track 1", "track 2", "track 10"]  # the file's stem
    assert natural_key("2 b") < natural_key("10 a")


def test_ids_are_valid_and_unique_whatever_the_titles():
    names = ["Intro", "intro", "INTRO!", "日本語", "", "---", "a" * 200, "Ça va? (Live)"]
    ids = unique_ids(names)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(TRACK_ID, i) for i in ids)
    assert ids[:3] == ["intro", "intro-2", "intro-3"]
    assert ids[3:6] == ["track-4", "track-5", "track-6"]  # nothing usable in the name
    assert ids[7] == "ca-va-live"


def test_a_single_file_anywhere_is_one_track(tagged_folder):
    root, tracks = discover_tracks(tagged_folder / "c.opus")
    assert root == tagged_folder.resolve() and [t.id for t in tracks] == ["third-the-end"]
    link = tagged_folder.parent / "linked.opus"  # a symlink named by the user is followed
    link.symlink_to(tagged_folder / "c.opus")
    assert discover_tracks(link)[1][0].title == "Third: the end!"


def test_folders_without_audio_and_non_audio_files_are_clear_errors(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path)) + ": no audio files"):
        discover_tracks(tmp_path)
    with pytest.raises(ConfigError, match="readme.txt: not an audio file"):
        discover_tracks(tmp_path / "readme.txt")
    with pytest.raises(ConfigError, match="nope: no such file or folder"):
        discover_tracks(tmp_path / "nope")


def test_unreadable_tags_fall_back_to_the_file_name(tmp_path):
    junk = tmp_path / "broken.mp3"
    junk.write_bytes(b"\xff\xfb" + bytes(300))
    assert discover.read_tags(junk) == discover.Tags()
    assert discover_tracks(junk)[1][0].title == "broken"


# ------------------------------------------------------------------------------ bundled defaults


def test_no_config_uses_the_bundled_defaults_model_and_the_current_folder(tagged_folder, tmp_path,
                                                                        monkeypatch):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    config, tracks = load_run_inputs(config_path=None, source=tagged_folder, overrides={})
    assert config.model.dir == bundled_model_dir() and (config.model.dir / "meta.json").is_file()
    assert bundled_model_dir() == REPO / "models" and PACKAGE_ROOT == REPO
    bundled = load_config(REPO / "render.yaml")
    assert (config.seed, config.model.backend) == (bundled.seed, bundled.model.backend)
    assert config.tracks is None  # the bundled album's per-track blocks are not applied
    assert config.album.root == tagged_folder.resolve()
    assert config.run_dir().parent == tmp_path / "renders"
    other = default_config(tagged_folder.resolve(), overrides={"output_root": "out"})
    assert other.run_dir().parent == tmp_path / "out"
    with pytest.raises(ConfigError, match="not both"):
        load_run_inputs(config_path=tmp_path / "render.yaml", source=tagged_folder)


def test_a_config_without_model_dir_finds_models_beside_it_else_the_bundled_one(tmp_path):
    path = tmp_path / "render.yaml"
    path.write_text("seed: 1\n")
    assert load_config(path).model.dir == bundled_model_dir()
    (tmp_path / "models").mkdir()
    assert load_config(path).path(load_config(path).model.dir) == tmp_path / "models"
    path.write_text("model: {dir: elsewhere}\n")  # written: taken as written
    assert load_config(path).model.dir == Path("elsewhere")


# ------------------------------------------------------------------------------ renders


def test_album_from_a_folder_has_its_titles_as_chapters(tagged_folder, tiny_model_dir, tmp_path,
                                                        monkeypatch, capsys):  # fmt: skip
    """The key bar: ``nts-render-album FOLDER`` from another folder, no file written by hand."""
    monkeypatch.chdir(tmp_path)
    assert album_main([str(tagged_folder), "--model", str(tiny_model_dir), *SMALL]) == 0
    (meta_path,) = (tmp_path / "renders").glob("run-*/meta.json")
    meta = json.loads(meta_path.read_text())
    assert [t["id"] for t in meta["tracks"]] == IDS and all(t["ok"] for t in meta["tracks"])
    for track in meta["tracks"]:
        tags = probe_media(track["output"])["tags"]
        assert tags["title"] == track["title"] and tags["artist"] == "Test Artist"
    film = probe_media(meta["album"])
    assert [c[2] for c in film["chapters"]] == TITLES
    starts = [c[0] for c in film["chapters"]]
    assert starts[0] == 0.0 and all(b - a == pytest.approx(SECONDS, abs=0.1)
                                    for a, b in zip(starts, starts[1:], strict=False))  # fmt: skip
    assert not (tagged_folder / "renders").exists()  # nothing written beside the music
    err = capsys.readouterr().err
    assert "Traceback" not in err and "album.mp4" in err


def test_one_song_renders_into_the_current_folder(tagged_folder, tiny_model_dir, tmp_path,
                                                  monkeypatch):  # fmt: skip
    """``nts-render-track SONG`` (an absolute path outside the project) from another folder."""
    monkeypatch.chdir(tmp_path)
    song = tagged_folder / "c.opus"
    assert track_main([str(song), "--model", str(tiny_model_dir), "-q", *SMALL]) == 0
    (video,) = (tmp_path / "renders").glob("run-*/third-the-end.mp4")
    probe = probe_media(video)
    assert probe["frames"] == round(SECONDS * 24) and probe["tags"]["title"] == "Third: the end!"
    assert not list((tmp_path / "renders").glob("run-*/album.mp4"))  # one track: no film


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["song.wav", "--track", "x"], "not both"),
        ([], "give an audio file"),
    ],
)
def test_render_track_arguments_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        track_main(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow  # a fresh interpreter: imports and JIT caches from cold (~45 s on 2 busy cores)
def test_render_track_script_runs_from_any_folder(tagged_folder, tiny_model_dir, tmp_path):
    """``python renderer/render_track.py SONG`` with an absolute path outside the project, run
    from a temporary folder: the mp4 lands in ./out/<run-id>/ there."""
    env = {**os.environ, "PYTHONPATH": ""}
    argv = [sys.executable, str(REPO / "renderer" / "render_track.py"),
            str(tagged_folder / "b side.mp3"), "--model", str(tiny_model_dir), "-o", "out",
            *SMALL]  # fmt: skip
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (video,) = (tmp_path / "out").glob("run-*/second-song.mp4")
    probe = probe_media(video)
    assert probe["frames"] == round(SECONDS * 24) and probe["tags"]["title"] == "Second Song"
    assert "Traceback" not in proc.stderr


def test_init_writes_an_editable_config_that_renders(tagged_folder, tiny_model_dir, tmp_path,
                                                     monkeypatch, capsys):  # fmt: skip
    folder = tmp_path / "album copy"
    folder.mkdir()
    for f in tagged_folder.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    monkeypatch.chdir(tmp_path)
    assert init_main([str(folder)]) == 0
    config_path, tracklist = folder / "render.yaml", folder / "tracklist.json"
    entries = json.loads(tracklist.read_text(encoding="utf-8"))["tracks"]
    assert [(e["id"], e["src"], e["title"]) for e in entries] == list(
        zip(IDS, ["a.m4a", "b side.mp3", "c.opus"], TITLES, strict=True)
    )
    text = config_path.read_text(encoding="utf-8")
    assert all(f"- id: {i}" in text for i in IDS) and "# trim:" in text
    config, tracks = load_run_inputs(config_path=config_path, source=None)
    assert [t.id for t in tracks] == IDS and config.model.dir == bundled_model_dir()
    # refuses to overwrite; --force does
    before = config_path.stat().st_mtime_ns
    assert init_main([str(folder)]) == 2
    assert "render.yaml: exists" in capsys.readouterr().err
    assert config_path.stat().st_mtime_ns == before
    config_path.write_text(text.replace("# preset: default", "preset: pulse", 1))
    init_folder(folder, force=True)
    assert "preset: pulse" not in config_path.read_text(encoding="utf-8")
    # the user edits a track's block and renders it with the written config
    edited = text.replace("  - id: second-song", "  - id: second-song\n    preset: pulse", 1)
    config_path.write_text(edited, encoding="utf-8")
    argv = ["--config", str(config_path), "--model", str(tiny_model_dir), "--tracks",
            "second-song", *SMALL]  # fmt: skip
    assert album_main(argv) == 0
    (meta_path,) = (folder / "renders").glob("run-*/meta.json")
    (track,) = json.loads(meta_path.read_text())["tracks"]
    assert track["ok"] and track["preset"] == "pulse" and track["title"] == "Second Song"


def test_init_refuses_a_folder_without_audio(tmp_path, capsys):
    assert init_main([str(tmp_path)]) == 2
    assert "no audio files" in capsys.readouterr().err
    assert not (tmp_path / "render.yaml").exists() and not (tmp_path / "tracklist.json").exists()


def test_a_package_without_its_model_says_so(tmp_path, monkeypatch, tagged_folder):
    from renderer.config import loading

    monkeypatch.setattr(loading, "PACKAGE_ROOT", tmp_path)  # an install that left models/ out
    with pytest.raises(ConfigError, match="bundled model is not there.*--model DIR"):
        default_config(tagged_folder, overrides={})
    config = default_config(tagged_folder, overrides={"model_dir": str(tmp_path)})
    assert config.model.dir == tmp_path and config.seed == 0  # no bundled render.yaml: schema
