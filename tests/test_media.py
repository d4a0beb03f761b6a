"""probe_media without ffprobe: stream headers + packet/sample counts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.media import probe_media
from renderer.errors import FFmpegError


def lavfi(path: Path, *args: str) -> Path:
    subprocess.run([find_ffmpeg(), "-v", "error", "-y", *args, str(path)], check=True)
    return path


def test_audio_only_file(tmp_path):
    mp3 = lavfi(tmp_path / "a.mp3", "-f", "lavfi", "-i", "sine=duration=1.5:sample_rate=44100")
    info = probe_media(mp3)
    assert info["video_codec"] is None and info["frames"] == 0 and info["video_duration"] == 0.0
    assert info["audio_codec"] == "mp3" and info["sample_rate"] == 44100
    assert info["audio_duration"] == pytest.approx(1.5, abs=0.03)  # MP3 frame granularity


def test_video_and_audio_file(tmp_path):
    mkv = lavfi(
        tmp_path / "av.mkv",
        "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=25:duration=1.2",
        "-f", "lavfi", "-i", "sine=duration=1.2:sample_rate=48000",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "flac",
    )  # fmt: skip
    info = probe_media(mkv)
    assert (info["width"], info["height"], info["fps"], info["frames"]) == (96, 64, 25.0, 30)
    assert info["video_duration"] == pytest.approx(1.2, abs=1e-3)
    assert info["audio_duration"] == pytest.approx(1.2, abs=1e-3)
    assert (info["video_codec"], info["audio_codec"]) == ("h264", "flac")
    assert info["chapters"] == []


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(FFmpegError, match="no such file"):
        probe_media(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(FFmpegError, match="junk.mp4: FFmpeg cannot read"):
        probe_media(junk)


def test_tags_start_times_and_key_frames(tmp_path):
    """Global tags (multi-line values too), each stream's first timestamp, key-frame indices."""
    mp4 = lavfi(
        tmp_path / "tagged.mp4",
        "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=30:duration=1",
        "-f", "lavfi", "-i", "sine=duration=1:sample_rate=48000",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-sc_threshold", "0",
        "-c:a", "aac", "-metadata", "title=Nacht: Teil 1",
        "-metadata", "artist=A \u00e4 B", "-metadata", "comment=line one\nline two",
    )  # fmt: skip
    info = probe_media(mp4)
    tags = info["tags"]
    assert tags["title"] == "Nacht: Teil 1" and tags["artist"] == "A \u00e4 B"
    assert tags["comment"] == "line one\nline two"
    assert info["video_start"] == pytest.approx(0.0, abs=1e-3)
    assert info["audio_start"] == pytest.approx(0.0, abs=1e-3)
    assert info["key_frames"] == [0, 10, 20]


def test_late_video_start_is_seen(tmp_path):
    """A video stream delayed by an (empty) edit shows up as a late first timestamp."""
    src = lavfi(
        tmp_path / "src.mp4",
        "-f", "lavfi", "-i", "testsrc2=size=64x36:rate=30:duration=1",
        "-c:v", "libx264", "-preset", "ultrafast",
    )  # fmt: skip
    late = lavfi(
        tmp_path / "late.mp4",
        "-itsoffset", "0.25", "-i", str(src),
        "-f", "lavfi", "-i", "sine=duration=1:sample_rate=48000",
        "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac",
    )  # fmt: skip
    info = probe_media(late)
    assert info["video_start"] == pytest.approx(0.25, abs=2e-3)
    assert info["audio_start"] == pytest.approx(0.0, abs=1e-3)
