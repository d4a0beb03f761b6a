"""Tests for renderer/fx/grading.py: tone curves and .cube 3D LUTs."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np
import pytest

from renderer.errors import ConfigError
from renderer.fx import grading

CURVES = ["none", "filmlog", "aces", "contrast"]


def _write_cube(path: Path, size: int, fn, *, header: str = "") -> Path:
    """A .cube file whose entry at grid point (r, g, b) is ``fn(r, g, b)`` (red varies fastest)."""
    lines = ["# hand-written test LUT", 'TITLE "test"', f"LUT_3D_SIZE {size}", header, ""]
    for b, g, r in product(range(size), repeat=3):
        rgb = np.array([r, g, b], dtype=np.float64) / (size - 1)
        lines.append(" ".join(f"{v:.6f}" for v in fn(rgb)))
    path.write_text("\n".join(lines) + "\n")
    return path


# ----------------------------------------------------------------------------------- tone_lut


@pytest.mark.parametrize("name", CURVES)
@pytest.mark.parametrize("exposure", [-1.0, 0.0, 0.7])
def test_tone_lut_is_monotone_uint8_table(name, exposure):
    lut = grading.tone_lut(name, exposure=exposure)
    assert lut.shape == (256,) and lut.dtype == np.uint8
    assert np.all(np.diff(lut.astype(int)) >= 0)


def test_tone_lut_none_is_identity():
    np.testing.assert_array_equal(grading.tone_lut("none"), np.arange(256))


def test_tone_lut_exposure_is_a_gain_in_stops():
    # one stop doubles the value, clipped at white
    expected = np.minimum(2 * np.arange(256), 255)
    np.testing.assert_array_equal(grading.tone_lut("none", exposure=1.0), expected)
    # minus one stop halves it
    half = grading.tone_lut("none", exposure=-1.0).astype(float)
    assert np.all(np.abs(half - np.arange(256) / 2.0) <= 0.5 + 1e-9)
    assert half[255] == 128


@pytest.mark.parametrize("name", CURVES)
def test_positive_exposure_brightens(name):
    base = grading.tone_lut(name).astype(int)
    bright = grading.tone_lut(name, exposure=0.5).astype(int)
    assert np.all(bright >= base)
    assert bright[64:200].mean() > base[64:200].mean() + 5


def test_tone_curve_endpoints():
    filmlog = grading.tone_lut("filmlog")
    assert filmlog[0] == round(0.035 * 255)  # lifted black
    assert filmlog[255] == round(0.96 * 255)  # rolled-off white
    for name in ("aces", "contrast", "none"):
        lut = grading.tone_lut(name)
        assert lut[0] == 0 and lut[255] == 255


def test_contrast_is_an_s_curve():
    lut = grading.tone_lut("contrast").astype(int)
    i = np.arange(256)
    assert np.all(lut[:128] <= i[:128]) and lut[40] < 40  # deeper shadows
    assert np.all(lut[128:] >= i[128:]) and lut[215] > 215  # brighter highlights


def test_aces_deepens_shadows():
    lut = grading.tone_lut("aces")
    assert lut[26] < 26  # 0.1 → about 0.07


def test_tone_lut_unknown_curve_names_it():
    with pytest.raises(ConfigError, match="'sepia'"):
        grading.tone_lut("sepia")


# ------------------------------------------------------------------------ available/resolve LUT


def test_available_luts_lists_the_bundled_cubes():
    assert grading.available_luts() == ["bleach_bypass", "cool_night", "teal_orange", "warm_fade"]
    assert "make_luts" not in grading.available_luts()  # the .py generator is not a LUT


def test_resolve_lut_by_bundled_name():
    path = grading.resolve_lut("teal_orange")
    assert path == grading.LUT_DIR / "teal_orange.cube"
    assert path.is_file()


def test_resolve_lut_by_path(tmp_path):
    cube = _write_cube(tmp_path / "mine.cube", 2, lambda rgb: rgb)
    assert grading.resolve_lut(str(cube)) == cube


def test_resolve_lut_missing_names_it_and_the_choices(tmp_path):
    with pytest.raises(ConfigError, match="no_such_lut") as info:
        grading.resolve_lut("no_such_lut")
    assert "teal_orange" in str(info.value)
    missing = tmp_path / "gone.cube"
    with pytest.raises(ConfigError, match="gone.cube"):
        grading.resolve_lut(str(missing))


# ---------------------------------------------------------------------------------- load_cube


def test_identity_cube_loads_and_samples_to_its_input(tmp_path):
    cube = grading.load_cube(_write_cube(tmp_path / "id.cube", 2, lambda rgb: rgb))
    assert cube.shape == (2, 2, 2, 3) and cube.dtype == np.float32
    for r, g, b in product(range(2), repeat=3):
        np.testing.assert_array_equal(cube[r, g, b], [r, g, b])
    rgb = np.random.default_rng(0).random((200, 3))
    np.testing.assert_allclose(grading.sample_cube(cube, rgb), rgb, atol=1e-6)


def test_cube_axes_are_r_g_b(tmp_path):
    # a channel swap (out = b, g, r) catches any transposed axis order
    cube = grading.load_cube(_write_cube(tmp_path / "swap.cube", 3, lambda rgb: rgb[::-1]))
    assert cube.shape == (3, 3, 3, 3)
    np.testing.assert_allclose(cube[2, 0, 1], [0.5, 0.0, 1.0])
    rgb = np.random.default_rng(1).random((100, 3))
    np.testing.assert_allclose(grading.sample_cube(cube, rgb), rgb[:, ::-1], atol=1e-6)


def test_sample_cube_is_trilinear_between_grid_points(tmp_path):
    # a nonlinear LUT is exact at grid points and linear along an edge between two of them
    cube = grading.load_cube(_write_cube(tmp_path / "sq.cube", 3, lambda rgb: rgb**2))
    at_grid = np.array([[0.0, 0.5, 1.0], [0.5, 0.5, 0.5]])
    np.testing.assert_allclose(grading.sample_cube(cube, at_grid), at_grid**2, atol=1e-6)
    mid = grading.sample_cube(cube, np.array([[0.25, 0.0, 1.0]]))
    np.testing.assert_allclose(mid, [[(0.0 + 0.25) / 2, 0.0, 1.0]], atol=1e-6)
    clipped = grading.sample_cube(cube, np.array([[-1.0, 2.0, 0.5]]))
    np.testing.assert_allclose(clipped, [[0.0, 1.0, 0.25]], atol=1e-6)


def test_bundled_luts_load():
    for name in grading.available_luts():
        cube = grading.load_cube(grading.resolve_lut(name))
        n = cube.shape[0]
        assert cube.shape == (n, n, n, 3) and n >= 2
        assert np.all((cube >= 0.0) & (cube <= 1.0))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0 0 0\n", "LUT_3D_SIZE"),
        ("LUT_3D_SIZE 2\n0 0 0\n1 1 1\n", "expected 8 rows"),
        ("LUT_3D_SIZE 2\nDOMAIN_MAX 2 2 2\n", "DOMAIN_MAX"),
        ("LUT_1D_SIZE 16\n", "1D"),
        ("LUT_3D_SIZE 2\nLUT_IN_VIDEO_RANGE yes\n", "cannot parse"),
    ],
)
def test_load_cube_rejects_bad_files(tmp_path, text, match):
    path = tmp_path / "bad.cube"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match) as info:
        grading.load_cube(path)
    assert "bad.cube" in str(info.value)


def test_load_cube_accepts_unit_domain(tmp_path):
    path = _write_cube(
        tmp_path / "dom.cube", 2, lambda rgb: rgb, header="DOMAIN_MIN 0 0 0\nDOMAIN_MAX 1 1 1"
    )
    assert grading.load_cube(path).shape == (2, 2, 2, 3)


# --------------------------------------------------------------------------- cube_delta_table


def _linear_cube(tmp_path: Path) -> np.ndarray:
    return grading.load_cube(_write_cube(tmp_path / "lin.cube", 2, lambda rgb: 0.5 * rgb + 0.25))


def test_cube_delta_table_strength_zero_is_no_op(tmp_path):
    add, sub = grading.cube_delta_table(_linear_cube(tmp_path), strength=0.0)
    assert add.shape == sub.shape == (32768, 3)
    assert add.dtype == sub.dtype == np.uint8
    assert not add.any() and not sub.any()


def test_cube_delta_table_identity_cube_is_no_op(tmp_path):
    cube = grading.load_cube(_write_cube(tmp_path / "id.cube", 2, lambda rgb: rgb))
    add, sub = grading.cube_delta_table(cube, strength=1.0)
    assert not add.any() and not sub.any()


def test_cube_delta_table_offsets_at_bin_centres(tmp_path):
    # lut(c) - c = 0.25 - 0.5 c; bin 0's centre is 3.5/255, bin 31's is 251.5/255
    add, sub = grading.cube_delta_table(_linear_cube(tmp_path), strength=1.0)
    low = round(0.25 * 255 - 0.5 * 3.5)  # 62
    np.testing.assert_array_equal(add[0], [low, low, low])
    np.testing.assert_array_equal(sub[0], [0, 0, 0])
    last = 32767
    np.testing.assert_array_equal(sub[last], [low, low, low])
    np.testing.assert_array_equal(add[last], [0, 0, 0])
    # index = r << 10 | g << 5 | b (the order renderer.fx.postfx bins pixels in)
    red_only = 31 << 10
    np.testing.assert_array_equal(add[red_only], [0, low, low])
    np.testing.assert_array_equal(sub[red_only], [low, 0, 0])
    # no bin both adds and subtracts
    assert not np.any((add > 0) & (sub > 0))


def test_cube_delta_table_strength_scales_offsets(tmp_path):
    add, _ = grading.cube_delta_table(_linear_cube(tmp_path), strength=0.5)
    np.testing.assert_array_equal(add[0], [31, 31, 31])  # round(0.5 · 62.0)
