"""Child processes seen through Linux's /proc, for the tests that check FFmpeg never outlives us."""

from __future__ import annotations

import os
from pathlib import Path


def ffmpeg_children(parent: int | None = None, *, marker: bytes = b"ffmpeg") -> list[int]:
    """PIDs of ``parent``'s (default: this process's) live FFmpeg children whose argv holds
    ``marker``. FFmpeg means exec'd: a child forked but not yet exec'd still shows its parent's
    argv, so a parent whose own argv holds the marker made its ``ffmpeg -version`` probe look like
    the FFmpeg under test for a millisecond (the test then watched the probe die and the real
    FFmpeg was left running)."""
    parent = os.getpid() if parent is None else parent
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        is_ffmpeg = b"ffmpeg" in os.path.basename(cmd.split(b"\0", 1)[0])
        if int(fields[1]) == parent and marker in cmd and is_ffmpeg and fields[0] not in "ZX":
            found.append(int(pid))
    return found
