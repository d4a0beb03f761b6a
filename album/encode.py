"""MP3 in and out through the bundled FFmpeg (libmp3lame), always as an argv list.

LAME prepends an encoder delay (1105 samples at 48 kHz incl. the decoder's 529) and pads the end;
it records both in the Xing/LAME header, which FFmpeg and libsndfile/mpg123 use to trim them, so a
decoded file starts at the same sample as the PCM we encoded (checked in tests/test_album.py).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np

from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.errors import FFmpegError

SR = 48_000


def write_mp3(path: Path, pcm: np.ndarray, *, bitrate_kbps: int = 192) -> None:
    """Encode float PCM [2, n] in [-1, 1] at 48 kHz to a CBR MP3 at ``path`` (atomic rename)."""
    if pcm.ndim != 2 or pcm.shape[0] != 2:
        raise ValueError(f"pcm must have shape [2, n], got {pcm.shape}")
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    argv = [
        find_ffmpeg(),
        "-hide_banner",
        "-loglevel", "error",
        "-y",
        "-f", "f32le", "-ar", str(SR), "-ac", "2",  # raw interleaved float32 on stdin
        "-i", "pipe:0",
        "-c:a", "libmp3lame",
        "-b:a", f"{bitrate_kbps}k",  # CBR: predictable size, seekable everywhere
        "-map_metadata", "-1",  # no encoder/date tags: same bytes on rerun
        "-bitexact",
        "-write_xing", "1",  # LAME header with delay/padding → gapless, sample-exact decode
        "-f", "mp3",
        str(partial),
    ]  # fmt: skip
    data = np.ascontiguousarray(pcm.T, dtype="<f4").tobytes()
    proc = subprocess.run(argv, input=data, capture_output=True, check=False)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        tail = proc.stderr.decode(errors="replace")[-800:]
        raise FFmpegError(f"encoding {path} failed (exit {proc.returncode}): {tail}")
    os.replace(partial, path)


def read_mp3(path: Path) -> np.ndarray:
    """Decode an audio file with FFmpeg to float32 [2, n] at 48 kHz."""
    argv = [
        find_ffmpeg(),
        "-hide_banner",
        "-loglevel", "error",
        "-protocol_whitelist", "file,pipe",
        "-i", str(path),
        "-f", "f32le", "-ac", "2", "-ar", str(SR),
        "pipe:1",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace")[-800:]
        raise FFmpegError(f"decoding {path} failed (exit {proc.returncode}): {tail}")
    return np.frombuffer(proc.stdout, dtype="<f4").reshape(-1, 2).T.copy()
