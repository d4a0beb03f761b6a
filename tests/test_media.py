"""probe_media without ffprobe: stream headers + packet/sample counts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from renderer.errors import FFmpegError
from renderer.ffmpeg_bin import find_ffmpeg
from renderer.media import probe_media


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
