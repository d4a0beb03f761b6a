"""Tests for renderer/fx/grading.py: tone curves and .cube 3D LUTs."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import cv2
import numpy as np
import pytest

from renderer.config.models import PostFXConfig
from renderer.errors import ConfigError
from renderer.fx import grading
from renderer.fx.autograde import MAX_CONTRAST
from renderer.fx.postfx import PostFX

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
    # one stop doubles the value up to the highlight knee, then rolls off: no flat white
    lut = grading.tone_lut("none", exposure=1.0).astype(int)
    below = np.arange(256) * 2 <= grading.HIGHLIGHT_KNEE * 255
    assert np.all(np.abs(lut[below] - 2 * np.arange(256)[below]) <= 1)
    assert lut[255] == 255 and np.all(np.diff(lut) >= 0)
    assert (lut == 255).sum() <= 8  # a hard clip would flatten the top 128 entries to white
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


# ------------------------------------------------------------ soft knees and contrast (issue 9)


def test_soft_range_is_identity_between_the_knees_and_monotone_outside():
    v = np.linspace(-0.5, 1.8, 500)
    out = grading.soft_range(v, low=-0.5, high=1.8)
    inside = (v >= grading.SHADOW_KNEE) & (v <= grading.HIGHLIGHT_KNEE)
    np.testing.assert_allclose(out[inside], v[inside])
    assert np.all(np.diff(out) > 0)  # strictly increasing: nothing is clipped flat
    assert out[0] == pytest.approx(0.0) and out[-1] == pytest.approx(1.0)
    # continuous at the knees (the knee continues the identity with the same slope)
    for knee in (grading.SHADOW_KNEE, grading.HIGHLIGHT_KNEE):
        near = grading.soft_range(np.array([knee - 1e-4, knee + 1e-4]), low=-0.5, high=1.8)
        assert abs(near[1] - near[0] - 2e-4) < 1e-5
    # values already inside [0, 1] are left alone
    np.testing.assert_allclose(grading.soft_range(np.array([0.0, 0.5, 1.0]), low=0, high=1),
                               [0.0, 0.5, 1.0])  # fmt: skip


def test_contrast_steepens_about_the_pivot_without_clipping():
    lut = grading.tone_lut("none", contrast=1.5, pivot=0.5).astype(int)
    assert abs(lut[128] - 128) <= 1
    assert (lut[150] - lut[106]) == pytest.approx(1.5 * 44, abs=2)  # slope 1.5 at the pivot
    assert lut[0] == 0 and lut[255] == 255 and np.all(np.diff(lut) >= 0)
    # shadows and highlights compressed, not flattened (a hard clip: 86 entries at 0 or 255)
    assert (lut == 0).sum() + (lut == 255).sum() < 24


# ------------------------------------------------- auto-exposure / auto-saturation (issue 9)

HOLD = dict(tone_curve="filmlog", vignette=0.0, grain_intensity=0.0, chroma_shift=0.0,
            auto_exposure=0.6, target_luma=115.0, luma_range=(70.0, 170.0), min_contrast=36.0,
            saturation=1.3, saturation_range=(0.40, 0.55), max_auto_stops=3.0)  # fmt: skip


def _texture(seed: int, *, shape=(54, 96), cells=(6, 10)) -> np.ndarray:
    """A smooth random colour field in [0, 1], float ``[H, W, 3]`` (GAN-frame-like)."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((*cells, 3)).astype(np.float32)
    return cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 255), 0, 255).astype(np.uint8)


def _grade(frames: np.ndarray, start: int = 0, **settings) -> np.ndarray:
    fx = PostFX(PostFXConfig(**{**HOLD, **settings}), size=(frames.shape[2], frames.shape[1]),
                seed=3, track_id="hold")  # fmt: skip
    return fx.apply(frames, frame_indices=np.arange(start, start + len(frames)))


def _stats(frame: np.ndarray) -> tuple[float, float, float]:
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(float)
    sat = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)[..., 1].mean() / 255
    return grey.mean(), grey.std(), sat


def test_auto_exposure_holds_a_dark_and_a_bright_input_inside_the_range():
    dark = _u8(_texture(1) ** 2 * 0.16)  # mean grey ≈ 13: a near-black frame
    bright = _u8(1.0 - (1.0 - _texture(2)) ** 2 * 0.15)  # mean grey ≈ 245
    out = _grade(np.stack([dark, bright]))
    for before, after in zip((dark, bright), out, strict=True):
        luma, contrast, _ = _stats(after)
        assert 69.0 <= luma <= 171.0, (_stats(before), luma)  # the range, to a grey level
        # stretched towards min_contrast (a near-flat frame as far as MAX_CONTRAST allows, on
        # top of the exposure gain, which scales the spread with the level)
        gain = luma / _stats(before)[0]
        assert contrast >= min(0.8 * 36.0, 0.9 * MAX_CONTRAST * gain * _stats(before)[1])
    assert _stats(dark)[0] < 20 and _stats(bright)[0] > 235  # the inputs really were extreme
    # strength 0 and no range: the grade leaves exposure alone (only the tone curve acts)
    plain = _grade(dark[None], auto_exposure=0.0, luma_range=None, min_contrast=0.0)
    assert _stats(plain[0])[0] < 30


def test_auto_saturation_holds_grey_and_vivid_inputs_inside_the_range():
    t = _texture(4)
    greyish = _u8(0.5 + 0.08 * (t - t.mean(axis=-1, keepdims=True)) + 0.3 * (t[..., :1] - 0.5))
    vivid = _u8(np.where(t > 0.5, 1.0, 0.05) * t)  # one or two channels near 0: HSV sat ≈ 0.9
    out = _grade(np.stack([greyish, vivid]))
    assert _stats(greyish)[2] < 0.2 and _stats(vivid)[2] > 0.75
    for frame in out:
        assert 0.38 <= _stats(frame)[2] <= 0.57


def test_saturation_gain_preserves_hue_and_never_clips_a_channel_flat():
    """A saturated orange gradient pushed by prism's gain: the old per-channel mix sent blue to
    0 and red to 255 over large flat areas; the Oklab gain keeps every hue and gradient."""
    y, x = np.mgrid[0:54, 0:96].astype(np.float32)
    frame = np.stack([200 + x / 96 * 55, 80 + y / 54 * 80, 20 + x / 96 * 50], -1)
    frame = frame.astype(np.uint8)[None]
    out = _grade(frame, tone_curve="none", auto_exposure=0.0, luma_range=None, min_contrast=0.0,
                 saturation=1.35, saturation_range=None)[0]  # fmt: skip
    old = np.clip(1.35 * frame[0].astype(float) - 0.35 * cv2.cvtColor(
        cv2.cvtColor(frame[0], cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB), 0, 255)  # fmt: skip
    assert (old[..., 2] == 0).mean() > 0.2 and (old[..., 0] == 255).mean() > 0.2  # prism's
    for channel in range(3):
        assert (out[..., channel] == 0).mean() < 0.03 and (out[..., channel] == 255).mean() < 0.03
        assert len(np.unique(out[..., channel])) > 25  # the gradient survives in every channel
    hue_in = np.angle(_lab(frame[0])[..., 1] + 1j * _lab(frame[0])[..., 2])
    hue_out = np.angle(_lab(out)[..., 1] + 1j * _lab(out)[..., 2])
    assert np.abs(np.angle(np.exp(1j * (hue_out - hue_in)))).max() < np.radians(4)
    assert _stats(out)[2] > _stats(frame[0])[2]  # and it is more saturated


def _lab(frame: np.ndarray) -> np.ndarray:
    from renderer.fx.oklab import rgb8_to_oklab

    return rgb8_to_oklab(frame).astype(np.float64)


def test_oklab_round_trip_and_gamut_table():
    from renderer.fx import oklab

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    lab = oklab.rgb8_to_oklab(frame)
    chroma, hue = cv2.cartToPolar(np.ascontiguousarray(lab[..., 1]),
                                  np.ascontiguousarray(lab[..., 2]))  # fmt: skip
    back = oklab.lch_to_rgb8(np.ascontiguousarray(lab[..., 0]), chroma, hue)
    assert np.abs(back.astype(int) - frame).max() <= 1
    table = oklab.gamut_table()
    assert table.shape == (oklab.GAMUT_L, oklab.GAMUT_H + 1)
    assert table[0].max() < 0.02 and table[-1].max() < 0.02  # black and white: (almost) none
    np.testing.assert_array_equal(table[:, 0], table[:, -1])  # wraps in hue
    # every random in-gamut colour lies (nearly) inside the interpolated boundary
    limit = oklab.max_chroma(np.ascontiguousarray(lab[..., 0]), hue)
    assert np.percentile(chroma / np.maximum(limit, 1e-6), 99) < 1.01
    soft = oklab.soft_clip_chroma(np.linspace(0, 1, 50, dtype=np.float32),
                                  np.full(50, 0.3, np.float32), knee=0.8)  # fmt: skip
    assert np.all(np.diff(soft) >= 0) and soft.max() <= 0.3
    np.testing.assert_array_equal(soft[:12], np.linspace(0, 1, 50, dtype=np.float32)[:12])


def test_graded_chunk_equals_the_same_frames_of_a_whole_render():
    clip = np.stack([_u8(_texture(k // 4) * (0.2 + k / 30)) for k in range(24)])
    whole = _grade(clip)
    np.testing.assert_array_equal(_grade(clip[13:20], start=13), whole[13:20])
    np.testing.assert_array_equal(_grade(clip), whole)  # deterministic
    # with trails, a chunk started with its warm-up equals the whole render (±1 level)
    settings = dict(persistence=0.5)
    fx = PostFX(PostFXConfig(**{**HOLD, **settings}), size=(96, 54), seed=3, track_id="hold")
    full = fx.apply(clip, frame_indices=np.arange(24))
    warm = fx.warmup_frames
    fx.reset()
    part = fx.apply(clip[20 - warm :], frame_indices=np.arange(20 - warm, 24))[warm:]
    assert np.abs(part.astype(int) - full[20:]).max() <= 1


def test_decisions_are_continuous_and_quantised():
    from renderer.fx import autograde
    from renderer.fx.colour_fx import tone_decision

    settings = PostFXConfig(**HOLD)
    base = _u8(_texture(7) * 0.3)
    a = tone_decision(base, settings)
    b = tone_decision(np.clip(base.astype(int) + 1, 0, 255).astype(np.uint8), settings)
    assert abs(a - b) <= 4 * autograde.STOPS_STEP  # a level brighter: nearly the same grade
    assert a > 0.5  # a dark frame is lifted
    assert (a / autograde.STOPS_STEP) == round(a / autograde.STOPS_STEP)
    assert tone_decision(base, PostFXConfig(exposure=0.25)) == 0.25  # auto off: creative only
    assert autograde.desired_luma(40.0, target=100.0, strength=0.5, luma_range=None) == (
        pytest.approx(np.sqrt(40.0 * 100.0))
    )
    assert autograde.desired_luma(40.0, target=100.0, strength=0.0, luma_range=(60, 200)) == 60
