"""Tests for renderer/config/cli.py: command-line overrides and the quality tables."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import pytest

from renderer.config.cli import (
    CLI_FIELDS,
    add_cli_arguments,
    apply_overrides,
    apply_quality,
    overrides_from_args,
    parse_resolution,
)
from renderer.config.models import QUALITY, RenderConfig
from renderer.errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="test")
    add_cli_arguments(parser)
    return parser


# ---------------------------------------------------------------------------- parse_resolution


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1280x720", [1280, 720]),
        ("1920X1080", [1920, 1080]),
        (" 640 x 360 ", [640, 360]),
        ((854, 480), [854, 480]),
        (["64", "64"], [64, 64]),
    ],
)
def test_parse_resolution(text, expected):
    assert parse_resolution(text) == expected


@pytest.mark.parametrize("text", ["720p", "1280", "1280x", "x720", "1x2x3", "wide", ""])
def test_parse_resolution_rejects_other_forms(text):
    with pytest.raises(ConfigError, match="WIDTHxHEIGHT") as info:
        parse_resolution(text)
    assert repr(text) in str(info.value)


# ------------------------------------------------------------------------------- apply_quality


def test_draft_halves_the_default_resolution_to_even_sizes():
    raw = apply_quality({}, "draft", force=False)
    assert raw["resolution"] == [960, 540]  # half of the 1920x1080 default
    assert raw["frame_rate"] == 24
    assert raw["render"]["oversample"] == 1
    assert raw["encode"]["profile"] == "draft"
    assert raw["postfx"]["upscale"] == "bicubic"
    kept = apply_quality({"postfx": {"grain_intensity": 0.3}}, "draft", force=True)["postfx"]
    assert kept == {"grain_intensity": 0.3, "upscale": "bicubic"}  # merged, not replaced


@pytest.mark.parametrize(
    ("size", "half"),
    [([1280, 720], [640, 360]), ([1000, 562], [500, 280]), ([100, 100], [64, 64])],
)
def test_draft_resolution_is_even_and_at_least_64(size, half):
    raw = apply_quality({"resolution": size}, "draft", force=True)
    assert raw["resolution"] == half
    assert all(v % 2 == 0 for v in raw["resolution"])


def test_quality_from_the_file_only_fills_what_the_file_omits():
    raw = {"frame_rate": 50, "resolution": [1280, 720], "render": {"chunk_seconds": 5.0}}
    merged = apply_quality(raw, "draft", force=False)
    assert merged["frame_rate"] == 50
    assert merged["resolution"] == [1280, 720]
    assert merged["render"] == {"chunk_seconds": 5.0, "oversample": 1}  # nested dicts merge
    assert merged["encode"] == {"profile": "draft"}


def test_forced_quality_replaces_the_files_values():
    raw = {"frame_rate": 50, "render": {"chunk_seconds": 5.0, "oversample": 3}}
    merged = apply_quality(raw, "full", force=True)
    assert merged["frame_rate"] == 60
    assert merged["render"] == {"chunk_seconds": 5.0, "oversample": 2}
    assert "resolution" not in merged  # only draft touches the resolution


def test_apply_quality_leaves_its_inputs_alone():
    raw = {"render": {"chunk_seconds": 5.0}}
    before, tables = copy.deepcopy(raw), copy.deepcopy(QUALITY)
    apply_quality(raw, "draft", force=False)
    apply_quality(raw, "full", force=True)
    assert raw == before
    assert tables == QUALITY


# ----------------------------------------------------------------------------- apply_overrides


def test_apply_overrides_maps_flat_keys_to_fields():
    raw = {"run": {"tracks": ["x"], "resume": False}, "decoder": {"threads": 2}}
    out = apply_overrides(
        raw,
        {
            "fps": "48",
            "resolution": "1280x720",
            "tracks": "a, b,,c ",
            "resume": True,
            "batch_size": "16",
            "provider": "cpu",
            "backend": "torch",
            "output_root": "/tmp/out",
            "keep_frames": True,
        },
    )
    assert out["frame_rate"] == 48
    assert out["resolution"] == [1280, 720]
    assert out["run"] == {"tracks": ["a", "b", "c"], "resume": True}
    assert out["decoder"] == {"threads": 2, "batch_size": 16, "execution_provider": "cpu"}
    assert out["model"] == {"backend": "torch"}
    assert out["output_root"] == "/tmp/out"
    assert out["render"] == {"keep_frames": True}
    assert raw == {"run": {"tracks": ["x"], "resume": False}, "decoder": {"threads": 2}}


def test_apply_overrides_ignores_none_and_rejects_unknown_keys():
    raw = {"frame_rate": 30}
    assert apply_overrides(raw, {"fps": None, "resolution": None}) == raw
    with pytest.raises(ConfigError, match="framerate") as info:
        apply_overrides(raw, {"framerate": 60})
    assert "fps" in str(info.value)  # lists the valid keys


def test_preset_override_beats_per_track_presets():
    raw = {
        "controller": {"preset": "default", "smoothing_alpha": 0.9},
        "tracks": [{"id": "a", "preset": "drift", "seed": 3}, {"id": "b"}],
    }
    out = apply_overrides(raw, {"preset": "pulse"})
    assert out["controller"] == {"preset": "pulse", "smoothing_alpha": 0.9}
    assert out["tracks"] == [{"id": "a", "seed": 3}, {"id": "b"}]
    assert raw["tracks"][0]["preset"] == "drift"  # the input is not modified


def test_quality_override_is_forced_and_explicit_flags_still_win():
    raw = {"frame_rate": 60, "resolution": [1280, 720], "quality": "full"}
    out = apply_overrides(raw, {"quality": "draft"})
    assert out["quality"] == "draft"
    assert out["frame_rate"] == 24
    assert out["resolution"] == [640, 360]
    both = apply_overrides(raw, {"quality": "draft", "fps": 50, "resolution": "1000x500"})
    assert both["frame_rate"] == 50
    assert both["resolution"] == [1000, 500]


# ---------------------------------------------------------------- argparse round trip (CLI → raw)


def test_no_flags_give_no_overrides():
    assert overrides_from_args(_parser().parse_args([])) == {}


def test_every_flag_round_trips_into_the_config():
    argv = [
        "--preset", "drift",
        "--fps", "60",
        "--resolution", "1280x720",
        "--quality", "draft",
        "--tracks", "opening,closing",
        "--resume",
        "--dry-run",
        "--keep-frames",
        "--debug-frames",
        "--batch-size", "8",
        "--backend", "torch",
        "--provider", "cpu",
        "-o", "elsewhere",
        "--model", "my-models",
        "--executor", "processes",
        "--workers", "2",
        "--address", "127.0.0.1:6379",
    ]  # fmt: skip
    overrides = overrides_from_args(_parser().parse_args(argv))
    assert set(overrides) == set(CLI_FIELDS)  # one flag per CLI field
    assert overrides["fps"] == 60 and overrides["batch_size"] == 8  # argparse converts ints
    assert overrides["dry_run"] is True and overrides["keep_frames"] is True

    config = RenderConfig.model_validate(apply_overrides({}, overrides))
    assert config.controller.preset == "drift"
    assert config.frame_rate == 60  # --fps wins over the draft table
    assert config.resolution == (1280, 720)  # and so does --resolution
    assert config.quality == "draft"
    assert config.encode.profile == "draft"
    assert config.render.oversample == 1
    assert config.run.tracks == ["opening", "closing"]
    assert config.run.resume and config.run.dry_run
    assert config.render.keep_frames and config.render.debug_frames
    assert config.decoder.batch_size == 8
    assert config.model.backend == "torch"
    assert config.decoder.execution_provider == "cpu"
    assert config.output_root == Path("elsewhere")
    assert config.model.dir == Path("my-models")
    assert (config.render.executor, config.render.workers) == ("processes", 2)
    assert config.render.address == "127.0.0.1:6379"


def test_output_has_one_name_and_the_old_spelling_still_works(capsys):
    for flag in ("-o", "--output", "--output-root"):
        assert overrides_from_args(_parser().parse_args([flag, "out"])) == {"output_root": "out"}
    _parser().print_help()
    help_text = capsys.readouterr().out
    assert "-o DIR, --output DIR" in help_text and "--output-root" not in help_text


def test_only_given_flags_are_overrides():
    overrides = overrides_from_args(_parser().parse_args(["--resume", "--fps", "25"]))
    assert overrides == {"resume": True, "fps": 25}


@pytest.mark.parametrize(
    "argv", [["--quality", "ultra"], ["--fps", "fast"], ["--backend", "tensorrt"]]
)
def test_invalid_flags_are_rejected_by_argparse(argv, capsys):
    with pytest.raises(SystemExit):
        _parser().parse_args(argv)
    assert "invalid" in capsys.readouterr().err
