"""FFmpeg subprocess plumbing shared by the frame writer and the muxer.

Processes get argv lists (never a shell); stderr is drained by a thread into a bounded buffer so
the pipe never blocks; :func:`reap` always leaves no process behind; output goes to a
``.partial`` name first.
"""

from __future__ import annotations

import collections
import subprocess
import threading
from pathlib import Path

from renderer.errors import FFmpegError

STDERR_LINES = 200
# Input restriction (ARCHITECTURE §9): FFmpeg may open local files and pipes, nothing else.
WHITELIST = ["-protocol_whitelist", "file,pipe"]


def partial_path(path: Path) -> Path:
    """``out/a.mp4`` → ``out/a.partial.mp4`` (keeps the extension that selects the muxer)."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


class StderrDrain:
    """Reads a pipe to EOF on a daemon thread, keeping the last ``maxlen`` lines."""

    def __init__(self, pipe, *, maxlen: int = STDERR_LINES) -> None:
        self.lines: collections.deque[str] = collections.deque(maxlen=maxlen)
        self._pipe = pipe
        self._thread = threading.Thread(target=self._run, name="ffmpeg-stderr", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for raw in iter(self._pipe.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace").rstrip())
        self._pipe.close()

    def tail(self, *, n: int = 20) -> str:
        self._thread.join(timeout=5)
        return "\n".join(list(self.lines)[-n:])


def reap(proc: subprocess.Popen) -> None:
    """Stop FFmpeg for sure: close its stdin, then terminate, then kill."""
    if proc.stdin and not proc.stdin.closed:
        try:
            proc.stdin.close()
        except OSError:
            pass  # the pipe is already broken; FFmpeg is exiting anyway
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - FFmpeg ignoring SIGTERM
            proc.kill()
            proc.wait()


def spawn(argv: list[str], *, stdin: bool) -> subprocess.Popen:
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise FFmpegError(f"cannot start FFmpeg at {argv[0]}: {exc}") from exc


def run_ffmpeg(argv: list[str], *, what: str) -> None:
    """Run a one-shot FFmpeg command; raise :class:`FFmpegError` with its stderr tail on failure."""
    proc = spawn(argv, stdin=False)
    drain = StderrDrain(proc.stderr)
    try:
        rc = proc.wait()
    finally:
        reap(proc)
    if rc != 0:
        raise FFmpegError(f"FFmpeg failed ({what}, exit {rc}):\n{drain.tail()}")
