"""Tests for renderer/run/previews.py: keyframes, GIF and thumbnail collected while frames stream by."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from renderer.run import previews
from renderer.run.previews import PreviewCollector, striking_score

FPS = 24
N = 240  # 10 s
W, H = 64, 48


def _grey(value: int = 128) -> np.ndarray:
    return np.full((H, W, 3), value, np.uint8)


def _colourful(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (H, W, 3), dtype=np.uint8)


def _collector(tmp_path: Path, **kw) -> PreviewCollector:
    args = dict(
        fps=FPS,
        n_frames=N,
        sections=[(0.0, "intro"), (4.0, "verse (A)")],
        highlight=2.0,
    )
    args.update(kw)
    return PreviewCollector.for_track(tmp_path / "previews", "opening", **args)


# ----------------------------------------------------------------------------- striking_score


def test_striking_score_ranks_colourful_texture_above_flat_grey():
    grey = striking_score(_grey())
    assert grey == pytest.approx(0.0, abs=1e-9)  # no colour at all
    assert striking_score(_colourful()) > 100 * max(grey, 1e-9)


def test_striking_score_needs_colour_contrast_and_detail():
    textured = striking_score(_colourful())
    flat_red = np.zeros((H, W, 3), np.uint8)
    flat_red[..., 0] = 255  # colourful but flat: no contrast, no detail
    grey_noise = np.repeat(_colourful()[..., :1], 3, axis=2)  # detailed but colourless
    assert textured > striking_score(flat_red)
    assert textured > striking_score(grey_noise)
    assert striking_score(grey_noise) == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------------------------- for_track


def test_keyframes_half_a_second_into_each_section_plus_middle(tmp_path):
    c = _collector(tmp_path)
    assert c.keyframes == {12: "intro", 108: "verse (A)", 120: "middle"}
    assert c.gif_start == 48  # highlight 2 s at 24 fps


def test_keyframes_and_gif_clamp_to_the_track(tmp_path):
    c = _collector(tmp_path, sections=[(9.9, "outro")], highlight=100.0)
    assert c.keyframes == {N - 1: "outro", N // 2: "middle"}
    assert c.gif_start == N - int(previews.GIF_SECONDS * FPS)  # the GIF ends with the track
    short = _collector(tmp_path, n_frames=30, sections=[(0.0, "start")], highlight=5.0)
    assert short.gif_start == 0


def test_middle_keyframe_does_not_replace_a_section_label(tmp_path):
    c = _collector(tmp_path, sections=[(4.5, "drop")])  # 108 + 12 = 120 = the middle frame
    assert c.keyframes == {120: "drop"}


# ------------------------------------------------------------------------------------- wanted


def test_wanted_lists_keyframes_and_gif_frames(tmp_path):
    c = _collector(tmp_path)
    step = round(FPS / previews.GIF_FPS)  # every 3rd frame for an 8 fps GIF
    gif = list(range(48, 48 + int(previews.GIF_SECONDS * FPS), step))
    assert len(gif) == int(previews.GIF_SECONDS * previews.GIF_FPS)
    assert c.wanted(0, N) == sorted({12, 108, 120, *gif})
    assert c.wanted(100, 110) == [102, 105, 108]
    assert c.wanted(130, 200) == []


# -------------------------------------------------------------------------------- offer/write


def _stream(c: PreviewCollector, frames: dict[int, np.ndarray]) -> None:
    """Offer all N frames: ``frames`` where given, else greys 12 levels apart from one GIF frame
    to the next (frames identical once quantised would be merged into one longer GIF frame)."""
    for i in range(N):
        c.offer(frames.get(i, _grey(40 + 4 * (i % 50))), i)


def test_offer_keeps_copies_of_keyframes_only(tmp_path):
    c = _collector(tmp_path)
    frame = _colourful()
    c.offer(frame, 12)
    c.offer(_colourful(1), 13)  # neither keyframe nor GIF frame
    frame[:] = 0  # the caller reuses its buffer
    assert set(c.kept) == {12}
    np.testing.assert_array_equal(c.kept[12], _colourful())
    assert c.gif == []


def test_write_keyframes_gif_and_thumbnail(tmp_path):
    c = _collector(tmp_path)
    striking = _colourful(3)
    _stream(c, {108: striking})
    out = c.write(tmp_path / "thumbnails")

    names = [Path(p).name for p in out["keyframes"]]
    assert names == [
        "opening_000012_intro.png",
        "opening_000108_verse.png",
        "opening_000120_middle.png",
    ]
    with Image.open(out["keyframes"][1]) as im:
        np.testing.assert_array_equal(np.asarray(im), striking)  # PNG is lossless

    assert Path(out["gif"]) == tmp_path / "previews" / "opening.gif"
    with Image.open(out["gif"]) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == int(previews.GIF_SECONDS * previews.GIF_FPS)
        assert gif.size == (previews.GIF_WIDTH, round(H * previews.GIF_WIDTH / W))
        # GIF stores delays in centiseconds: 125 ms per frame is written as 120 ms
        assert abs(gif.info["duration"] - 1000 / previews.GIF_FPS) <= 10

    assert out["thumbnail_frame"] == 108
    assert Path(out["thumbnail"]) == tmp_path / "thumbnails" / "opening.jpg"
    with Image.open(out["thumbnail"]) as thumb:
        assert thumb.format == "JPEG"
        assert thumb.size == previews.THUMB_SIZE == (1280, 720)
        pixels = np.asarray(thumb.convert("RGB")).astype(float)
    # from the colourful frame, not a grey one: strong differences between channels
    assert np.abs(pixels[..., 0] - pixels[..., 1]).mean() > 30
    # nothing left behind but the outputs (the temporary names are renamed away)
    assert sorted(p.name for p in (tmp_path / "previews").iterdir()) == sorted(
        [*names, "opening.gif"]
    )


def test_write_without_frames_writes_nothing(tmp_path):
    out = _collector(tmp_path).write(tmp_path / "thumbnails")
    assert out == {"keyframes": [], "gif": None, "thumbnail": None, "thumbnail_frame": None,
                   "frame_size": None}  # fmt: skip
    assert not (tmp_path / "thumbnails").exists()


def test_previews_come_from_full_size_frames(tmp_path):
    """Frames offered at the output size (1920×1080 here) give full-size keyframes, and the
    thumbnail is an area reduction of that frame, not an enlargement of a smaller one."""
    y, x = np.mgrid[0:1080, 0:1920]
    stripes = ((x + y) % 2 * 255).astype(np.uint8)  # 1-px checker: pure detail
    frame = np.stack([stripes, 255 - stripes, np.full_like(stripes, 90)], axis=-1)
    c = _collector(tmp_path)
    c.offer(frame, 12)
    out = c.write(tmp_path / "thumbnails")
    assert out["frame_size"] == [1920, 1080]
    with Image.open(out["keyframes"][0]) as im:
        assert im.size == (1920, 1080)
    with Image.open(out["thumbnail"]) as thumb:
        pixels = np.asarray(thumb.convert("RGB")).astype(float)
    # area averaging of a 1-px checker is a near-flat mid level; a bicubic shrink aliases it
    assert pixels.shape == (720, 1280, 3)
    assert abs(pixels[..., 0].mean() - 127.5) < 6 and pixels[..., 0].std() < 25
    assert previews._fit(frame, (1920, 1080)) is frame
    small = previews._fit(frame[:90, :160], (320, 180))
    assert small.shape == (180, 320, 3)  # enlarging (a frame below the target) is bicubic


def _gradient(seed: int) -> np.ndarray:
    """A smooth colourful frame (what a render looks like to a palette), shifting with ``seed``."""
    y, x = np.mgrid[0:H, 0:W] / np.array([H, W]).reshape(2, 1, 1)
    channels = [np.sin(3 * x + seed / 5), np.cos(4 * y - seed / 7), np.sin(2 * (x + y) + seed / 3)]
    return (127.5 + 127.5 * np.stack(channels, axis=-1)).astype(np.uint8)


def test_gif_frames_share_one_palette_close_to_the_frames(tmp_path):
    c = _collector(tmp_path)
    _stream(c, {i: _gradient(i) for i in range(48, 120)})
    frames = list(c.gif)
    palette = previews.gif_palette(frames)
    images = [previews.quantise(frame, palette) for frame in frames]
    assert all(im.getpalette() == palette.getpalette() for im in images)  # no per-frame table
    out = c.write(tmp_path / "thumbnails")
    first = Path(out["gif"]).read_bytes()
    with Image.open(out["gif"]) as gif:
        assert gif.n_frames == len(frames)
        got = []
        for i, want in enumerate(images):
            gif.seek(i)
            got.append(np.asarray(gif.convert("RGB")))
            np.testing.assert_array_equal(got[-1], np.asarray(want.convert("RGB")))
    # One palette for the clip follows each frame about as closely as the 128 colours median cut
    # finds for that frame alone (measured: 1.5× the error on these frames and on a render's)
    for i in (0, len(frames) - 1):
        own = Image.fromarray(frames[i]).quantize(colors=128, method=Image.Quantize.MEDIANCUT)
        own_error = np.abs(np.asarray(own.convert("RGB"), float) - frames[i]).mean()
        assert np.abs(got[i].astype(float) - frames[i]).mean() < 1.7 * own_error, i
    assert c.write(tmp_path / "thumbnails")["gif"] == out["gif"]
    assert Path(out["gif"]).read_bytes() == first  # the same frames give the same bytes


def test_gif_of_a_clip_with_few_colours_is_lossless():
    rng = np.random.default_rng(5)
    colours = rng.integers(0, 256, (200, 3), dtype=np.uint8)  # 200 colours over the whole clip
    frames = [colours[rng.integers(0, 200, (H, W))] for _ in range(6)]
    palette = previews.gif_palette(frames, stride=1)
    for frame in frames:
        mapped = previews.quantise(frame, palette).convert("RGB")
        np.testing.assert_array_equal(np.asarray(mapped), frame)
