"""A decoder backend per track: ``backend:`` in a track's block of render.yaml or its tracklist
entry, else ``model.backend``; an album mixes the GAN and the CPPN, each track exactly as a run of
its backend alone renders it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from render_fixtures import FPS, make_album, read_meta

from renderer.config.loading import build_config
from renderer.config.tracklist import load_tracklist, resolve_track
from renderer.errors import ConfigError
from renderer.run.decoders import backends_of, with_backend


def _tracklist(tmp_path: Path, entries: list[dict]) -> Path:
    for entry in entries:
        (tmp_path / entry["src"]).write_bytes(b"")
    path = tmp_path / "tracklist.json"
    path.write_text(json.dumps(entries))
    return path


def test_the_track_block_wins_over_the_tracklist_which_wins_over_model_backend(tmp_path):
    path = _tracklist(tmp_path, [{"id": "a", "src": "a.wav", "backend": "cppn"},
                                 {"id": "b", "src": "b.wav"},
                                 {"id": "c", "src": "c.wav", "backend": "cppn"}])  # fmt: skip
    tracks = load_tracklist(path)
    assert [t.backend for t in tracks] == ["cppn", None, "cppn"]
    assert "backend" not in tracks[0].extra
    raw = {"model": {"backend": "torch"}, "tracks": [{"id": "c", "backend": "onnx"}]}
    config = build_config(raw)
    plans = [resolve_track(config, t) for t in tracks]
    assert [p.backend for p in plans] == ["cppn", "torch", "onnx"]
    assert [p.to_dict()["backend"] for p in plans] == ["cppn", "torch", "onnx"]
    assert backends_of(plans) == ["cppn", "torch", "onnx"]
    assert backends_of([plans[1], plans[0], plans[1]]) == ["torch", "cppn"]


def test_an_unknown_backend_is_an_error_naming_the_field(tmp_path):
    with pytest.raises(ConfigError, match=r"render\.yaml: tracks\.0\.backend: .*'cppn'"):
        build_config({"tracks": [{"id": "a", "backend": "vulkan"}]})
    path = _tracklist(tmp_path, [{"id": "a", "src": "a.wav", "backend": "gan"}])
    with pytest.raises(ConfigError, match=r"tracklist\.json: \[0\]: backend: "):
        load_tracklist(path)


def test_with_backend_copies_the_config_and_keeps_its_folder(tmp_path):
    config = build_config({"model": {"backend": "onnx"}}, source=tmp_path / "render.yaml")
    assert with_backend(config, "onnx") is config
    other = with_backend(config, "cppn")
    assert other.model.backend == "cppn" and config.model.backend == "onnx"
    assert other.base_dir == config.base_dir and other.model.dir == config.model.dir


def test_an_album_of_a_gan_track_and_a_cppn_track(tmp_path, tiny_model_dir, monkeypatch):
    """t0 on the CPPN (its render.yaml block), t1 on the GAN (model.backend: onnx): both render,
    meta.json records each track's backend, and each track's frames are those of a run of its
    backend alone (the CPPN by ``--backend cppn``, the GAN with the default backend)."""
    from renderer.render_album import main as album_main
    from renderer.render_track import main as track_main

    monkeypatch.chdir(tmp_path)
    block = "  - id: t0\n    backend: cppn\n    preset: cppn-flow\n"
    album = make_album(tmp_path, tiny_model_dir, seconds=2.0, extra=block)
    assert album_main(["--config", str(album), "--output-root", "mixed", "-q"]) == 0
    mixed = read_meta(album, "mixed")
    t0, t1 = mixed["tracks"]
    assert (t0["id"], t0["backend"], t1["id"], t1["backend"]) == ("t0", "cppn", "t1", "onnx")
    assert t0["ok"] and t1["ok"] and t0["frames"] == t1["frames"] == 2 * FPS
    assert Path(mixed["album"]).is_file()
    # The CPPN draws at the output size; the tiny GAN decodes 64² and is enlarged: other pictures.
    assert t0["chunks"][0]["frame_hashes"] != t1["chunks"][0]["frame_hashes"]

    assert track_main(["--config", str(album), "--track", "t0", "--backend", "cppn",
                       "--output-root", "cppn-only", "-q"]) == 0  # fmt: skip
    assert track_main(["--config", str(album), "--track", "t1", "--output-root", "gan-only",
                       "-q"]) == 0  # fmt: skip
    alone = {
        "t0": read_meta(album, "cppn-only")["tracks"][0],
        "t1": read_meta(album, "gan-only")["tracks"][0],
    }
    for track in (t0, t1):
        ref = alone[track["id"]]
        assert ref["backend"] == track["backend"]
        assert [c["frame_hashes"] for c in ref["chunks"]] == [
            c["frame_hashes"] for c in track["chunks"]
        ], track["id"]


def test_a_cppn_preset_picks_the_cppn_unless_the_track_says_otherwise(tmp_path):
    path = _tracklist(tmp_path, [{"id": "a", "src": "a.wav"}, {"id": "b", "src": "b.wav"},
                                 {"id": "c", "src": "c.wav", "backend": "onnx"}])  # fmt: skip
    tracks = load_tracklist(path)
    raw = {"model": {"backend": "torch"},
           "tracks": [{"id": "a", "preset": "cppn-pulse"}, {"id": "c", "preset": "cppn-flow"}]}  # fmt: skip
    plans = [resolve_track(config := build_config(raw), t) for t in tracks]
    # a: the preset's backend beats model.backend; b: no preset backend (default preset);
    # c: the tracklist's own choice beats the preset's
    assert [p.backend for p in plans] == ["cppn", "torch", "onnx"]
    assert config.model.backend == "torch"
