"""FFmpeg subprocess plumbing shared by the frame writer, the muxer and the prober.

Processes get argv lists (never a shell); stderr is drained by a thread into a bounded buffer so
the pipe never blocks; :func:`reap` always leaves no process behind; output goes to a
``.partial`` name first.

On Linux every FFmpeg child asks the kernel to SIGKILL it when its parent dies
(``prctl(PR_SET_PDEATHSIG)``, :func:`child_kwargs`), so a render killed with SIGKILL (or by the OOM
killer) leaves no FFmpeg running on. Elsewhere the option is simply not set.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from renderer.errors import FFmpegError

STDERR_LINES = 200
# Input restriction (ARCHITECTURE §9): FFmpeg may open local files and pipes, nothing else.
WHITELIST = ["-protocol_whitelist", "file,pipe"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _load_prctl():
    """libc's ``prctl``, resolved once at import (never inside the forked child); None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return None


_PRCTL = _load_prctl()


def _die_with_parent(parent_pid: int):
    """``preexec_fn`` for the child: SIGKILL me when the parent dies.

    Runs between fork and exec, so it does no allocation-heavy work and touches no locks. If the
    parent already died before the request took effect, the child exits at once.
    """

    def preexec() -> None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def child_kwargs(*, long_lived: bool = False) -> dict[str, Any]:
    """Extra :class:`subprocess.Popen` keyword arguments that tie a child's life to ours.

    The kernel sends the death signal when the *thread* that forked the child exits, not only the
    process. A blocking call (``subprocess.run``) keeps its thread alive for the child's whole
    life, so it is always safe; a ``long_lived`` child that outlives the call (a streaming
    encoder) only gets it when started from the main thread, whose end is the process's end.
    """
    if _PRCTL is None:
        return {}
    if long_lived and threading.current_thread() is not threading.main_thread():
        return {}
    return {"preexec_fn": _die_with_parent(os.getpid())}


def describe_exit(rc: int, *, program: str = "ffmpeg") -> str:
    """``exit 1`` for a normal failure; ``ffmpeg was killed by signal 9 (SIGKILL)`` for a signal."""
    if rc >= 0:
        return f"exit {rc}"
    try:
        name = signal.Signals(-rc).name
    except ValueError:
        name = "unknown signal"
    return f"{program} was killed by signal {-rc} ({name})"


def failure_report(prefix: str, rc: int, tail: str, *, program: str = "ffmpeg") -> str:
    """``<prefix> (exit 1):\n<stderr tail>``, or for a killed child
    ``<prefix>: ffmpeg was killed by signal 9 (SIGKILL) …`` (an empty tail says nothing)."""
    if rc >= 0:
        return f"{prefix} (exit {rc}):\n{tail}"
    killed = describe_exit(rc, program=program)
    detail = f"\nlast output before it was killed:\n{tail}" if tail.strip() else ""
    return f"{prefix}: {killed}; it did not fail on its own, something stopped it{detail}"


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
    """Start FFmpeg with stderr piped; a ``stdin`` (streaming) child may outlive this call."""
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            **child_kwargs(long_lived=stdin),
        )
    except OSError as exc:
        raise FFmpegError(f"cannot start FFmpeg at {argv[0]}: {exc}") from exc


def run_ffmpeg(argv: list[str], *, what: str) -> None:
    """Run a one-shot FFmpeg command; raise :class:`FFmpegError` with its stderr tail on failure
    (or the signal that killed it)."""
    proc = spawn(argv, stdin=False)
    drain = StderrDrain(proc.stderr)
    try:
        rc = proc.wait()
    finally:
        reap(proc)
    if rc != 0:
        if rc > 0:
            raise FFmpegError(f"FFmpeg failed ({what}, exit {rc}):\n{drain.tail()}")
        raise FFmpegError(failure_report(f"FFmpeg failed ({what})", rc, drain.tail()))


def ffmpeg_to(ffmpeg: str, out: Path, args: list[str], *, what: str) -> Path:
    """Run ``<ffmpeg> [quiet, local files only] <args> <out>`` through ``out``'s partial name:
    renamed to ``out`` on success, removed on any failure."""
    partial = partial_path(out)
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *WHITELIST, *args,
            str(partial)]  # fmt: skip
    try:
        run_ffmpeg(argv, what=what)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return out
