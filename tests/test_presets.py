"""Bundled presets: all load and validate, differ as their moods say, bad presets are named."""

from __future__ import annotations

import numpy as np
import pytest
from control_fixtures import make_meta

import renderer.presets as presets
from renderer.config.models import ControllerSettings, PostFXConfig
from renderer.config.overlay import deep_merge
from renderer.control.motion import anchor_scores, softmax
from renderer.errors import ConfigError
from renderer.fx.grading import resolve_lut
from renderer.presets import Preset, check_preset_name, list_presets, load_preset


def test_required_presets_exist():
    assert {"default", "pulse", "drift", "nocturne", "prism"} <= set(list_presets())


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_validates_and_defines_its_mood(name):
    preset = load_preset(name)
    assert isinstance(preset, Preset) and preset.name == name and preset.description
    ctrl = preset.controller_overlay()
    # each preset speaks to anchors, motion, smoothing and grading
    assert {"smoothing_alpha", "anchors", "motion", "tempo_sync"} <= set(ctrl)
    assert {"prefer", "shuffle_seed"} <= set(ctrl["anchors"])
    assert {"pulse_strength", "drift_speed", "crossfade"} <= set(ctrl["motion"])
    merged = ControllerSettings.model_validate(deep_merge(ControllerSettings().model_dump(), ctrl))
    assert merged.smoothing_alpha == preset.controller.smoothing_alpha
    fx = PostFXConfig(**{**preset.postfx.model_dump(), **preset.postfx_overlay()})
    if fx.lut:
        assert resolve_lut(fx.lut).is_file()


def test_moods_differ_as_described():
    pulse, drift = load_preset("pulse").controller, load_preset("drift").controller
    assert pulse.motion.pulse_strength > drift.motion.pulse_strength
    assert pulse.smoothing_alpha < drift.smoothing_alpha
    assert pulse.motion.crossfade < drift.motion.crossfade
    meta = make_meta(n_anchors=6)
    stats = [a.stats for a in meta.anchors]
    tags = [a.tags for a in meta.anchors]

    def preferred(name: str) -> np.ndarray:
        a = load_preset(name).controller.anchors
        return softmax(
            anchor_scores(stats, tags, prefer=a.prefer, tag_weights=a.tags) / a.temperature
        )

    luma = np.array([s["luma"] for s in stats])
    # nocturne puts its weight on dark anchors, prism on saturated ones
    assert preferred("nocturne") @ luma < 0.3
    assert preferred("prism") @ np.array([s["saturation"] for s in stats]) > 0.5
    assert (
        load_preset("prism").controller.motion.chroma_anchor
        > ControllerSettings().motion.chroma_anchor
    )


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        load_preset("../render")
    assert all(n in str(err.value) for n in list_presets())
    check_preset_name("default")


@pytest.fixture
def preset_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "PRESET_DIR", tmp_path)
    presets.load_preset.cache_clear()
    yield tmp_path
    presets.load_preset.cache_clear()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("controller: {preset: drift}\n", "cannot name another preset"),
        ("controller: {motion: {pulse_strength: 9}}\n", "controller.motion.pulse_strength"),
        ("postfx: {glow: 1}\n", "postfx.glow: unknown field"),
        ("name: other\n", "does not match"),
        ("colour: red\n", "colour: unknown field"),
    ],
)
def test_bad_presets_name_file_and_field(preset_dir, text, needle):
    (preset_dir / "broken.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_preset("broken")
    assert "broken.yaml" in str(err.value) and needle in str(err.value)


def test_minimal_preset_overlays_nothing_else(preset_dir):
    (preset_dir / "tiny.yaml").write_text("controller:\n  motion: {pulse_strength: 0.9}\n")
    tiny = load_preset("tiny")
    assert tiny.controller_overlay() == {"motion": {"pulse_strength": 0.9}}
    assert tiny.postfx_overlay() == {}
