"""Locate a usable FFmpeg binary (≥ 6) without requiring a system install.

Search order (ARCHITECTURE §7): an explicit path (``ffmpeg_path`` setting), ``$PATH``, then the
binary shipped in the ``imageio-ffmpeg`` wheel. A binary older than FFmpeg 6 is rejected with a
message that says which one was found and how to point at another.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from renderer.encode.ffmpeg_proc import child_kwargs
from renderer.errors import FFmpegError

MIN_MAJOR = 6
_VERSION_RE = re.compile(r"ffmpeg version n?(\d+)\.(\d+)")


def ffmpeg_version(binary: str | Path) -> tuple[int, int]:
    """Return ``(major, minor)`` of an FFmpeg binary; (0, 0) for unparseable git builds. Asked
    once per binary file (path, inode, size and mtime), not once per run summary."""
    try:
        st = os.stat(binary)
    except OSError as exc:
        raise FFmpegError(f"cannot run FFmpeg at {binary}: {exc}") from exc
    return _version_of(str(binary), st.st_ino, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _version_of(binary: str, *_stamp: int) -> tuple[int, int]:
    try:
        out = subprocess.run(
            [str(binary), "-hide_banner", "-version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            **child_kwargs(),
        ).stdout
    except OSError as exc:
        raise FFmpegError(f"cannot run FFmpeg at {binary}: {exc}") from exc
    match = _VERSION_RE.search(out)
    if not match:
        if out.startswith("ffmpeg version"):
            return (0, 0)
        raise FFmpegError(f"{binary} does not look like FFmpeg (output: {out[:80]!r})")
    return int(match.group(1)), int(match.group(2))


def _bundled() -> str | None:
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - a core dependency
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:  # pragma: no cover - wheel without binary
        return None


@functools.lru_cache(maxsize=8)
def find_ffmpeg(explicit: str | None = None) -> str:
    """Path of the FFmpeg binary to use; raises :class:`FFmpegError` when none (≥ 6) is found.

    An explicit path must exist and be new enough. On ``$PATH`` an old FFmpeg (Debian 12 ships
    5.1) is skipped in favour of the bundled one rather than failing the render.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise FFmpegError(f"ffmpeg_path {explicit!r} does not exist")
        _require_version(path)
        return str(path)
    on_path = shutil.which("ffmpeg")
    if on_path and _new_enough(on_path):
        return on_path
    bundled = _bundled()
    if bundled and _new_enough(bundled):
        return bundled
    found = on_path or bundled
    if found:
        _require_version(found)  # raises with the version it saw
    raise FFmpegError(
        "no FFmpeg found: install the imageio-ffmpeg wheel (pip install imageio-ffmpeg), "
        "put ffmpeg ≥ 6 on PATH, or set ffmpeg_path in render.yaml"
    )


def _new_enough(binary: str | Path) -> bool:
    major, _ = ffmpeg_version(binary)
    return major == 0 or major >= MIN_MAJOR


def _require_version(binary: str | Path) -> None:
    major, minor = ffmpeg_version(binary)
    if major != 0 and major < MIN_MAJOR:
        raise FFmpegError(
            f"FFmpeg at {binary} is version {major}.{minor}; noise-to-signal needs FFmpeg ≥ "
            f"{MIN_MAJOR}. Point ffmpeg_path at a newer binary or remove it to use the bundled one."
        )


@functools.lru_cache(maxsize=8)
def ffmpeg_encoders(binary: str) -> frozenset[str]:
    """Names of the video and audio encoders an FFmpeg build lists (``-hide_banner -encoders``)."""
    try:
        out = subprocess.run([str(binary), "-hide_banner", "-encoders"], capture_output=True,
                             text=True, timeout=30, check=False, **child_kwargs()).stdout  # fmt: skip
    except OSError as exc:
        raise FFmpegError(f"cannot run FFmpeg at {binary}: {exc}") from exc
    names = set()
    for line in out.splitlines():
        parts = line.split()
        # Rows read " V....D h264_nvenc   NVIDIA NVENC H.264 encoder"; the legend rows start
        # with "V..... = Video", and the table starts after a " ------" rule.
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS" and parts[1] != "=":
            names.add(parts[1])
    return frozenset(names)


@functools.lru_cache(maxsize=8)
def encoder_opens(binary: str, encoder: str) -> bool:
    """Whether ``encoder`` really encodes here: one 256×256 frame to the null muxer. A build can
    list ``h264_nvenc`` (the imageio-ffmpeg one does) on a machine without an NVIDIA driver, where
    opening it fails with "Cannot load libcuda.so.1"."""
    argv = [str(binary), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-f", "lavfi", "-i", "color=black:s=256x256:r=30",  # fmt: skip
            "-frames:v", "1", "-c:v", encoder, "-f", "null", "-"]  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, timeout=60, check=False, **child_kwargs())
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
