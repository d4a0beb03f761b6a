"""album.mp4: picture and sound both start at 0 (no empty edit), checked on the real file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from renderer.encode.frame_writer import FrameWriter, concat_and_mux
from renderer.encode.media import probe_media
from renderer.run.film import FilmPart, build_album_film, video_only

W, H, FPS, SR = 64, 36, 30, 48000


def _boxes(buf: bytes, start: int, end: int):
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[i : i + 8])
        head = 8
        if size == 1:
            size, head = struct.unpack(">Q", buf[i + 8 : i + 16])[0], 16
        elif size == 0:
            size = end - i
        yield kind.decode("latin-1"), i + head, i + size
        i += size


def edit_lists(path: Path) -> list[list[tuple[int, int]]]:
    """Each track's ``elst`` entries ``(segment duration, media time)``; media time −1 is an
    empty edit (the track starts late)."""
    buf = Path(path).read_bytes()
    found: list[list[tuple[int, int]]] = []

    def walk(start: int, end: int) -> None:
        for kind, a, b in _boxes(buf, start, end):
            if kind in ("moov", "trak", "edts"):
                walk(a, b)
            elif kind == "elst":
                version, count, p, entries = (
                    buf[a],
                    struct.unpack(">I", buf[a + 4 : a + 8])[0],
                    a + 8,
                    [],
                )
                for _ in range(count):
                    fmt, step = (">Qq", 20) if version == 1 else (">Ii", 12)
                    entries.append(struct.unpack(fmt, buf[p : p + step - 4]))
                    p += step
                found.append(entries)

    walk(0, len(buf))
    return found


def make_track(folder: Path, name: str, seconds: float, seed: int) -> FilmPart:
    """A finished track like render_track makes: video-only segments + AAC audio, muxed."""
    rng = np.random.default_rng(seed)
    segments = []
    for k in range(2):
        seg = folder / f"{name}-{k:04d}.mp4"
        with FrameWriter(seg, fps=FPS, size=(W, H)) as writer:
            n = round(seconds * FPS / 2)
            writer.write(rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8))
        segments.append(seg)
    wav = folder / f"{name}.wav"
    t = np.arange(round(seconds * SR)) / SR
    sf.write(wav, np.stack([0.2 * np.sin(2 * np.pi * 440 * t)] * 2, 1), SR, subtype="PCM_24")
    out = folder / f"{name}.mp4"
    concat_and_mux(segments, wav, out, duration=seconds, title=name)
    return FilmPart(out, wav, seconds, name.upper())


@pytest.fixture(scope="module")
def film(tmp_path_factory) -> tuple[Path, list[FilmPart]]:
    folder = tmp_path_factory.mktemp("film")
    parts = [make_track(folder, f"t{i}", 2.0, i) for i in range(2)]
    out = build_album_film(parts, folder / "album.mp4", work_dir=folder / "audio")
    return out, parts


def test_tracks_carry_an_aac_priming_edit(film):
    """Why the fix is needed: a track's AAC has an edit that skips 1024 priming samples."""
    _, parts = film
    assert any(media == 1024 for entries in edit_lists(parts[0].video)[1:] for _, media in entries)


def test_film_picture_and_sound_both_start_at_zero(film):
    out, _ = film
    info = probe_media(out)
    assert info["video_start"] == pytest.approx(0.0, abs=1e-3)
    assert info["audio_start"] == pytest.approx(0.0, abs=1e-3)
    assert info["frames"] == 4 * FPS and info["video_duration"] == pytest.approx(4.0, abs=1e-3)
    assert abs(info["audio_duration"] - info["video_duration"]) < 0.005
    assert [c[2] for c in info["chapters"]] == ["T0", "T1"]
    for entries in edit_lists(out):
        assert all(media != -1 for _, media in entries), f"empty edit in {entries}"


def test_work_files_are_removed_and_video_only_has_no_audio(film, tmp_path):
    out, parts = film
    assert sorted(p.name for p in (out.parent / "audio").iterdir()) == ["album.wav"]
    solo = video_only(parts[0].video, tmp_path / "solo.mp4")
    info = probe_media(solo)
    assert info["audio_codec"] is None and info["frames"] == 2 * FPS
    assert info["video_start"] == pytest.approx(0.0, abs=1e-3)


def test_film_is_deterministic(film, tmp_path):
    out, parts = film
    again = build_album_film(parts, tmp_path / "album.mp4", work_dir=tmp_path / "audio")
    assert again.read_bytes() == out.read_bytes()
