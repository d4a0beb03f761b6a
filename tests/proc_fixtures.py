"""Child processes seen through Linux's /proc, for the tests that check FFmpeg never outlives us."""

from __future__ import annotations

import os
from pathlib import Path


def ffmpeg_children(parent: int | None = None, *, marker: bytes = b"ffmpeg") -> list[int]:
    """PIDs of ``parent``'s (default: this process's) live children whose argv holds ``marker``."""
    parent = os.getpid() if parent is None else parent
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent and marker in cmd and fields[0] not in "ZX":
            found.append(int(pid))
    return found
