"""Per-track files carry title/artist/album/track tags from the tracklist entry (real FFmpeg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from renderer.config.tracklist import TrackSpec
from renderer.encode.frame_writer import FrameWriter, concat_and_mux
from renderer.encode.media import probe_media
from renderer.encode.mux import metadata_args, track_metadata

W, H, FPS, SR = 64, 36, 30, 48000


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mux")
    rng = np.random.default_rng(0)
    out = {}
    for profile, ext in (("youtube", "mp4"), ("webm", "webm")):
        seg = folder / f"{profile}-0000.{ext}"
        with FrameWriter(seg, fps=FPS, size=(W, H), profile=profile) as writer:
            writer.write(rng.integers(0, 256, (15, H, W, 3), dtype=np.uint8))
        out[profile] = [seg]
    wav = folder / "tone.wav"
    t = np.arange(SR // 2) / SR
    sf.write(wav, np.stack([0.2 * np.sin(2 * np.pi * 440 * t)] * 2, 1), SR)
    out["wav"] = wav
    return out


TITLE = 'Nacht; = #1 \\ "\u00c4" & more'


def spec(**extra):
    return TrackSpec(
        id="t01", src=Path("album/t01.wav"), title=TITLE, artist="The Band", extra=extra
    )


def test_track_metadata_from_the_tracklist_entry():
    assert track_metadata(spec()) == {"title": TITLE, "artist": "The Band"}
    assert track_metadata(spec(album="Noise", track=3)) == {
        "title": TITLE, "artist": "The Band", "album": "Noise", "track": "3",
    }  # fmt: skip
    bare = TrackSpec(id="t02", src=Path("x.wav"))
    assert track_metadata(bare, number=2, album="LP") == {
        "title": "t02",
        "album": "LP",
        "track": "2",
    }
    with pytest.raises(ValueError, match="metadata key"):
        metadata_args({"Bad Key": "x"})


@pytest.mark.parametrize("profile, ext", [("youtube", "mp4"), ("webm", "webm"), ("master", "mkv")])
def test_tags_land_in_the_file(tmp_path, inputs, profile, ext):
    segments = inputs["webm" if profile == "webm" else "youtube"]
    out = tmp_path / f"t01.{ext}"
    concat_and_mux(segments, inputs["wav"], out, profile=profile, duration=0.5, title="t01",
                   metadata=track_metadata(spec(album="Noise", track=3)))  # fmt: skip
    tags = probe_media(out)["tags"]
    assert tags["title"] == TITLE and tags["artist"] == "The Band"
    assert tags["album"] == "Noise" and tags["track"].split("/")[0] == "3"


def test_webm_transcode_keeps_the_tags(tmp_path, inputs):
    from renderer.run.track import transcode_webm

    mp4 = tmp_path / "t01.mp4"
    concat_and_mux(inputs["youtube"], inputs["wav"], mp4, duration=0.5,
                   metadata=track_metadata(spec()))  # fmt: skip
    webm = transcode_webm(mp4, fps=FPS, size=(W, H), ffmpeg_path=None)
    tags = probe_media(webm)["tags"]
    assert tags["title"] == TITLE and tags["artist"] == "The Band"


def test_title_alone_is_written_and_tags_repeat_byte_for_byte(tmp_path, inputs):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    concat_and_mux(inputs["youtube"], inputs["wav"], a, duration=0.5, title="Only a title")
    assert probe_media(a)["tags"]["title"] == "Only a title"
    for out in (a, b):
        concat_and_mux(inputs["youtube"], inputs["wav"], out, duration=0.5, title="t01",
                       metadata=track_metadata(spec(track=1)))  # fmt: skip
    assert a.read_bytes() == b.read_bytes()
