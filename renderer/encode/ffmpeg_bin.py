"""Locate a usable FFmpeg binary (≥ 6) without requiring a system install.

Search order (ARCHITECTURE §7): an explicit path (``ffmpeg_path`` setting), ``$PATH``, then the
binary shipped in the ``imageio-ffmpeg`` wheel. A binary older than FFmpeg 6 is rejected with a
message that says which one was found and how to point at another.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

from renderer.encode.ffmpeg_proc import child_kwargs
from renderer.errors import FFmpegError

MIN_MAJOR = 6
_VERSION_RE = re.compile(r"ffmpeg version n?(\d+)\.(\d+)")


def ffmpeg_version(binary: str | Path) -> tuple[int, int]:
    """Return ``(major, minor)`` of an FFmpeg binary; (0, 0) for unparseable git builds."""
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
