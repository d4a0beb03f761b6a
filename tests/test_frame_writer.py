"""FrameWriter and concat_and_mux with the real (bundled) FFmpeg."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from proc_fixtures import ffmpeg_children

from renderer.encode import profiles as ep
from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.frame_writer import (
    Chapter,
    FrameWriter,
    concat_and_mux,
    partial_path,
    run_ffmpeg,
    write_ffmetadata,
)
from renderer.encode.media import probe_media
from renderer.errors import ConfigError, FFmpegError

W, H, FPS = 64, 36, 30


def frames(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, H, W, 3), dtype=np.uint8)


def write_segment(path: Path, n: int, *, profile: str = "youtube", seed: int = 0) -> Path:
    with FrameWriter(path, fps=FPS, size=(W, H), profile=profile) as writer:
        for batch in np.array_split(frames(n, seed), 3):
            writer.write(batch)
    assert writer.frames_written == n and writer.duration == pytest.approx(n / FPS)
    return path


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> Path:
    """3.3 s of 440 Hz mono at 44.1 kHz (longer than the videos; resampled on mux)."""
    path = tmp_path_factory.mktemp("audio") / "tone.wav"
    subprocess.run(
        [find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=3.3:sample_rate=44100", str(path)],
        check=True,
    )  # fmt: skip
    return path


def test_frames_count_back(tmp_path):
    out = write_segment(tmp_path / "seg.mp4", 17)
    info = probe_media(out)
    assert info["frames"] == 17 and (info["width"], info["height"]) == (W, H)
    assert info["video_codec"] == "h264" and info["audio_codec"] is None
    assert info["video_duration"] == pytest.approx(17 / FPS, abs=1e-6)
    assert not partial_path(out).exists()


@pytest.mark.parametrize("profile,ext", [("youtube", "mp4"), ("webm", "webm"), ("draft", "mp4")])
def test_segments_repeat_byte_for_byte(tmp_path, profile, ext):
    digests = {
        hashlib.sha256(
            write_segment(tmp_path / f"{k}.{ext}", 9, profile=profile).read_bytes()
        ).digest()
        for k in range(3)
    }
    assert len(digests) == 1


def test_ffmpeg_side_scaling(tmp_path):
    out = tmp_path / "scaled.mp4"
    with FrameWriter(out, fps=FPS, size=(128, 72), input_size=(W, H), profile="draft") as writer:
        writer.write(frames(4))
    info = probe_media(out)
    assert (info["width"], info["height"], info["frames"]) == (128, 72, 4)


def test_standalone_file_has_faststart(tmp_path):
    out = tmp_path / "standalone.mp4"
    with FrameWriter(out, fps=FPS, size=(W, H), segment=False) as writer:
        writer.write(frames(3))
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")


@pytest.mark.parametrize("exc_type", [RuntimeError, KeyboardInterrupt])
def test_exception_mid_write_reaps_ffmpeg_and_leaves_nothing(tmp_path, exc_type):
    out = tmp_path / "broken.mp4"
    with pytest.raises(exc_type):
        with FrameWriter(out, fps=FPS, size=(W, H)) as writer:
            writer.write(frames(5))
            proc = writer._proc
            assert proc.pid in ffmpeg_children()
            raise exc_type("boom")
    assert proc.returncode is not None
    assert ffmpeg_children() == []
    assert not out.exists() and not partial_path(out).exists()


def test_ffmpeg_failure_carries_stderr_and_removes_partial(tmp_path):
    out = tmp_path / "bad.mp4"
    with pytest.raises(FFmpegError, match="(?s)FFmpeg .*bad.mp4.*preset"):
        with FrameWriter(out, fps=FPS, size=(W, H), preset="no-such-preset") as writer:
            for _ in range(50):  # FFmpeg exits at start-up: the pipe breaks or close() fails
                writer.write(frames(4))
    assert not out.exists() and not partial_path(out).exists()
    assert ffmpeg_children() == []


def test_failure_at_close_is_reported(tmp_path):
    out = tmp_path / "late.mp4"
    writer = FrameWriter(out, fps=FPS, size=(W, H))
    # A stand-in process that reads all frames, then fails the way FFmpeg would at the trailer.
    script = (
        "import sys; sys.stdin.buffer.read(); sys.stderr.write('trailer failed\\n'); sys.exit(3)"
    )
    writer.argv = [sys.executable, "-c", script]
    with pytest.raises(FFmpegError, match="(?s)exit 3.*trailer failed"):
        with writer:
            writer.write(frames(2))
    assert not out.exists() and not partial_path(out).exists()


def test_ctrl_c_while_finishing_reaps_ffmpeg(tmp_path):
    out = tmp_path / "interrupted.mp4"
    writer = FrameWriter(out, fps=FPS, size=(W, H))
    writer.open()
    writer.write(frames(3))
    proc, real_wait = writer._proc, writer._proc.wait
    calls = []

    def wait_interrupted(timeout=None):
        calls.append(timeout)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_wait(timeout)

    proc.wait = wait_interrupted
    with pytest.raises(KeyboardInterrupt):
        writer.close()
    assert proc.returncode is not None and ffmpeg_children() == []
    assert not out.exists() and not partial_path(out).exists()
    writer.close()  # a second close is a no-op


def test_run_ffmpeg_missing_binary():
    with pytest.raises(FFmpegError, match="cannot start FFmpeg"):
        run_ffmpeg(["/no/such/ffmpeg", "-version"], what="test")


def test_missing_binary_and_bad_input(tmp_path):
    with pytest.raises(FFmpegError, match="does not exist"):
        FrameWriter(tmp_path / "x.mp4", fps=FPS, size=(W, H), ffmpeg_path="/no/such/ffmpeg")
    with pytest.raises(FFmpegError, match="even"):
        FrameWriter(tmp_path / "x.mp4", fps=FPS, size=(W + 1, H))
    with pytest.raises(FFmpegError, match="outside"):
        FrameWriter(tmp_path / "x.mp4", fps=FPS, size=(W, H)).write(frames(1))
    with FrameWriter(tmp_path / "x.mp4", fps=FPS, size=(W, H), profile="draft") as writer:
        with pytest.raises(ValueError, match=r"uint8 \[B, 36, 64, 3\]"):
            writer.write(frames(1)[:, :10])
        writer.write(frames(1)[0])  # a single [H, W, 3] frame is accepted
    assert writer.frames_written == 1


def test_concat_and_mux_durations_match_audio(tmp_path, tone):
    segs = [
        write_segment(tmp_path / f"seg_{k:04d}.mp4", n, seed=k) for k, n in enumerate([15, 15, 7])
    ]
    chapters = [Chapter(0.0, 0.5, "Intro = start; #1"), (0.5, 37 / FPS, "Second\\part")]
    out = concat_and_mux(
        segs, tone, tmp_path / "album.mp4", profile="youtube", chapters=chapters, title="LP"
    )
    info = probe_media(out)
    assert info["frames"] == 37
    assert info["video_duration"] == pytest.approx(37 / FPS, abs=1e-6)
    assert abs(info["audio_duration"] - 37 / FPS) <= 0.005
    assert (info["audio_codec"], info["sample_rate"]) == ("aac", 48000)
    assert [c[2] for c in info["chapters"]] == ["Intro = start; #1", "Second\\part"]
    assert info["chapters"][1][0] == pytest.approx(0.5)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # faststart
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*(s.name for s in segs), "album.mp4"]
    )


def test_mux_pads_short_audio_and_offsets(tmp_path, tone):
    seg = write_segment(tmp_path / "seg.mp4", 30)
    seg2 = write_segment(tmp_path / "seg2.mp4", 30)
    # Start 2.5 s into the 3.3 s tone: only 0.8 s of audio for 2 s of video → padded with silence.
    out = concat_and_mux([seg, seg2], tone, tmp_path / "padded.mp4", audio_offset=2.5, gain_db=-6)
    info = probe_media(out)
    assert abs(info["audio_duration"] - 2.0) <= 0.005 and info["frames"] == 60


def test_webm_profile(tmp_path, tone):
    segs = [write_segment(tmp_path / f"w{k}.webm", 12, profile="webm", seed=k) for k in range(2)]
    out = concat_and_mux(segs, tone, tmp_path / "track.webm", profile="webm", duration=24 / FPS)
    info = probe_media(out)
    assert (info["video_codec"], info["audio_codec"], info["frames"]) == ("vp9", "opus", 24)
    assert abs(info["audio_duration"] - 24 / FPS) <= 0.005


def test_video_only_mux_and_errors(tmp_path, tone):
    seg = write_segment(tmp_path / "seg.mp4", 6)
    out = concat_and_mux([seg], None, tmp_path / "silent.mp4", profile="draft")
    assert probe_media(out)["audio_codec"] is None
    with pytest.raises(FFmpegError, match="no segments"):
        concat_and_mux([], tone, tmp_path / "x.mp4")
    with pytest.raises(FFmpegError, match="audio file"):
        concat_and_mux([seg], tmp_path / "missing.wav", tmp_path / "x.mp4")
    odd = tmp_path / "bad name.mp4"
    odd.write_bytes(seg.read_bytes())
    with pytest.raises(FFmpegError, match="not a safe concat name"):
        concat_and_mux([odd], tone, tmp_path / "x.mp4", duration=0.2)
    other = tmp_path / "sub"
    other.mkdir()
    moved = other / "seg.mp4"
    moved.write_bytes(seg.read_bytes())
    with pytest.raises(FFmpegError, match="not in the folder"):
        concat_and_mux([seg, moved], tone, tmp_path / "x.mp4", duration=0.4)
    with pytest.raises(FFmpegError, match="does not exist"):
        concat_and_mux([tmp_path / "gone.mp4"], tone, tmp_path / "x.mp4", duration=0.2)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\0" * 1000)
    with pytest.raises(FFmpegError, match="muxing x.mp4"):
        concat_and_mux([corrupt], tone, tmp_path / "x.mp4", duration=0.2)
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.partial.mp4").exists()


def test_ffmetadata_escaping(tmp_path):
    path = tmp_path / "meta.txt"
    write_ffmetadata(path, [Chapter(0, 1.5, "a=b;c#d\\e\nf")], title="t=1")
    text = path.read_text()
    assert "title=t\\=1" in text and "title=a\\=b\\;c\\#d\\\\e\\\nf" in text
    assert "START=0" in text and "END=1500" in text
    with pytest.raises(ValueError, match="not after start"):
        write_ffmetadata(path, [(2.0, 1.0, "x")])


def test_youtube_argv_contents(tmp_path):
    argv = FrameWriter(tmp_path / "a.mp4", fps=30, size=(1920, 1080)).argv
    joined = " ".join(argv)
    assert argv.index("-protocol_whitelist") < argv.index("-i")
    for flag in [
        "-c:v libx264", "-profile:v high", "-preset superfast", "-bf 2", "-g 15",
        "-flags +cgop+bitexact", "-b:v 8000k", "-maxrate 12000k", "-bufsize 16000k",
        "-pix_fmt yuv420p", "-colorspace bt709", "-color_primaries bt709", "-fflags +bitexact",
        "-threads 1", "-an", "out_color_matrix=bt709",
    ]:  # fmt: skip
        assert flag in joined, flag
    assert "sliced-threads" not in joined  # one thread: x264's VBV repeats only so
    chosen = " ".join(FrameWriter(tmp_path / "a.mp4", fps=30, size=(1920, 1080), threads=4).argv)
    assert "-threads 4" in chosen and "-x264-params sliced-threads=1" in chosen
    assert argv[-1].endswith("a.partial.mp4")
    sixty = " ".join(FrameWriter(tmp_path / "a.mp4", fps=60, size=(1920, 1080)).argv)
    assert "-b:v 12000k" in sixty and "-g 30" in sixty
    webm = " ".join(FrameWriter(tmp_path / "a.webm", fps=30, size=(W, H), profile="webm").argv)
    assert "libvpx-vp9" in webm and "-crf 31 -b:v 0" in webm
    master = " ".join(FrameWriter(tmp_path / "a.mp4", fps=30, size=(W, H), profile="master").argv)
    assert "-preset slow" in master and "-crf 14" in master


def test_profile_registry_and_tables():
    assert set(ep.PROFILES) == {"youtube", "webm", "master", "draft"}
    assert ep.get_profile(ep.PROFILES["draft"]) is ep.PROFILES["draft"]
    with pytest.raises(ConfigError, match="choose one of draft, master, webm, youtube"):
        ep.get_profile("vhs")
    assert ep.youtube_bitrate(width=1280, height=720, fps=30) == 5.0
    assert ep.youtube_bitrate(width=1280, height=720, fps=60) == 7.5
    assert ep.youtube_bitrate(width=3840, height=2160, fps=60) == 68.0
    assert ep.youtube_bitrate(width=640, height=360, fps=24) == 1.0
    assert ep.gop_size(30) == 15 and ep.gop_size(1) == 1
    assert ep.fps_fraction(29.97) == ep.Fraction(30000, 1001)
    assert ep.fps_fraction(23.976) == ep.Fraction(24000, 1001)
    assert ep.fps_fraction(25) == 25 and ep.fps_fraction(12.5) == ep.Fraction(25, 2)
    with pytest.raises(ConfigError, match="positive"):
        ep.fps_fraction(0)


def test_colours_survive_the_bt709_round_trip(tmp_path):
    colours = np.array([[200, 50, 50], [30, 180, 60], [40, 60, 220], [128, 128, 128]], np.uint8)
    solid = np.repeat(np.repeat(colours[:, None, None, :], H, 1), W, 2)
    out = tmp_path / "colours.mp4"
    with FrameWriter(out, fps=FPS, size=(W, H), profile="master") as writer:
        writer.write(solid)
    # FFmpeg decodes with the matrix the stream is tagged with (BT.709).
    raw = subprocess.run(
        [find_ffmpeg(), "-v", "error", "-i", str(out), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    back = np.frombuffer(raw, np.uint8).reshape(4, H, W, 3)[:, H // 2, W // 2].astype(int)
    assert np.abs(back - colours).max() <= 3  # a BT.601/709 mix-up shifts saturated hues more
